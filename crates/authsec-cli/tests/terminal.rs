//! Colour only on a terminal and never with `NO_COLOR`; `--help` carries examples.

mod common;

use std::process::Command;

use common::authsec;

/// Runs `authsec ARGS` on a pseudo-terminal (util-linux `script`), returning what it printed.
/// Its tests are `#[ignore]`d with the reason and fail when run without `script`.
fn on_a_terminal(args: &str, no_color: Option<&str>) -> String {
    assert!(
        Command::new("script").arg("--version").output().is_ok(),
        "`script` (util-linux) is not installed: no pseudo-terminal to test with"
    );
    let cmd = format!("{} {args}", env!("CARGO_BIN_EXE_authsec"));
    let mut c = Command::new("script");
    c.args(["-qec", &cmd, "/dev/null"]).env_remove("NO_COLOR");
    if let Some(v) = no_color {
        c.env("NO_COLOR", v);
    }
    let out = c.output().expect("run script");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const EXPLAIN: &str = "explain 'Bearer error=\"invalid_token\", error_description=\"expired\"'";

#[ignore = "needs util-linux `script` (a pseudo-terminal): cargo nextest run --run-ignored all"]
#[test]
fn a_terminal_gets_colour() {
    let out = on_a_terminal(EXPLAIN, None);
    assert!(out.contains("\x1b[1mwhat happened:\x1b[0m"), "{out:?}");
}

#[ignore = "needs util-linux `script` (a pseudo-terminal): cargo nextest run --run-ignored all"]
#[test]
fn no_color_turns_colour_off_even_on_a_terminal() {
    let out = on_a_terminal(EXPLAIN, Some("1"));
    assert!(out.contains("what happened:"), "{out:?}");
    assert!(!out.contains('\x1b'), "{out:?}");
}

#[test]
fn a_pipe_gets_no_colour() {
    let run = authsec(&["explain", "Bearer error=\"invalid_token\""], "", &[]);
    assert!(run.stdout.contains("what happened:") && !run.stdout.contains('\x1b'));
}

#[test]
fn help_shows_examples_for_every_command() {
    for cmd in [
        &["--help"][..],
        &["decode", "--help"],
        &["diagnose", "--help"],
        &["explain", "--help"],
    ] {
        let run = authsec(cmd, "", &[]);
        assert_eq!(run.code, 0);
        let examples = run.stdout.split("Examples:\n").nth(1).unwrap_or_default();
        assert!(
            examples.contains(
                &format!("authsec {}", cmd[0]).replace("authsec --help", "authsec decode")
            ),
            "{cmd:?}:\n{}",
            run.stdout
        );
    }
    let run = authsec(&["diagnose", "--help"], "", &[]);
    assert!(
        run.stdout
            .contains("a flag wins over\nthe file, the file over the environment"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Exit status: 0 the SDK would allow"),
        "{}",
        run.stdout
    );
}
