//! `authsec`: diagnose a token, decode it, explain a denial, probe a live MCP server, get a
//! token as an agent, run the console, run the demo, run a throwaway token issuer.
//!
//! The binary is thin: the checks live in the `authsec` library (`authsec::diagnose`,
//! `authsec::explain`), so the CLI, the SDK and the tests all run the same code.

#![forbid(unsafe_code)]

mod cli;
mod console_cmd;
mod decode;
mod demo_cmd;
mod dev_issuer_cmd;
mod diagnose_cmd;
mod explain_cmd;
mod gateway_cmd;
mod input;
mod output;
mod probe;
mod time;
mod token_cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let style = output::Style::detect();
    let result = match args.command {
        cli::Command::Decode(a) => decode::run(&a, &style),
        cli::Command::Diagnose(a) => diagnose_cmd::run(&a, &style),
        cli::Command::Explain(a) => explain_cmd::run(&a, &style),
        cli::Command::Probe(a) => probe::run(&a, &style),
        cli::Command::Console(a) => console_cmd::run(a),
        cli::Command::Demo(a) => demo_cmd::run(&a),
        cli::Command::DevIssuer(a) => dev_issuer_cmd::run(&a),
        cli::Command::Gateway(a) => gateway_cmd::run(&a),
        cli::Command::Token(a) => token_cmd::run(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("authsec: {e}");
            ExitCode::from(2)
        }
    }
}
