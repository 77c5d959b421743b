//! `authsec decode`: header and claims, NOT VERIFIED.

use std::process::ExitCode;

use authsec::diagnose::relative;
use authsec::Fingerprint;
use authsec_proto::jws as token;
use serde_json::{json, Map, Value};

use crate::cli::DecodeArgs;
use crate::output::{cell, table, Style};
use crate::time::format_utc;

/// Claims shown first, in this order; the rest follow alphabetically.
const FIRST: [&str; 9] = [
    "iss",
    "sub",
    "aud",
    "client_id",
    "azp",
    "scope",
    "scp",
    "iat",
    "nbf",
];
/// Claims holding NumericDates.
const TIMES: [&str; 4] = ["exp", "nbf", "iat", "auth_time"];

pub fn run(args: &DecodeArgs, style: &Style) -> Result<ExitCode, String> {
    let token = crate::input::read_token(args.token.as_deref())?;
    let fingerprint = Fingerprint::of(&token);
    let jws = match token::parse_jws(&token) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("authsec: cannot decode token {fingerprint}: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let now = authsec::system_now();
    let h = &jws.header;
    let mut header = Map::new();
    header.insert("alg".into(), json!(h.alg));
    for (k, v) in [("kid", &h.kid), ("typ", &h.typ), ("cty", &h.cty)] {
        if let Some(v) = v {
            header.insert(k.into(), json!(v));
        }
    }
    if let Some(c) = &h.crit {
        header.insert("crit".into(), json!(c));
    }
    for m in &h.embedded_key_members {
        header.insert(m.clone(), json!("(present; never used)"));
    }
    let claims = jws.claims.raw.as_map();

    if args.json {
        let mut times = Map::new();
        for name in TIMES {
            if let Some(t) = claims.get(name).and_then(Value::as_i64) {
                times.insert(
                    name.into(),
                    json!({"unix": t, "utc": format_utc(t), "relative": relative(t, now)}),
                );
            }
        }
        let out = json!({
            "verified": false,
            "fingerprint": fingerprint.to_string(),
            "header": header,
            "claims": claims,
            "times": times,
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }

    let mut out = String::new();
    out.push_str(
        &style.warn("NOT VERIFIED: decoded only. Nothing here is checked; use `authsec diagnose`."),
    );
    out.push('\n');
    out.push_str(&format!(
        "token fingerprint {fingerprint} ({} bytes; the token itself is never printed)\n\n",
        token.len()
    ));
    out.push_str(&style.bold("header"));
    out.push('\n');
    let rows: Vec<_> = header
        .iter()
        .map(|(k, v)| vec![cell(format!("  {k}")), cell(show(v))])
        .collect();
    out.push_str(&table(&rows));
    out.push('\n');
    out.push_str(&style.bold("claims"));
    out.push('\n');
    let mut names: Vec<&String> = claims.keys().collect();
    names.sort_by_key(|k| {
        (
            FIRST
                .iter()
                .position(|f| f == k)
                .or((k.as_str() == "exp").then_some(FIRST.len()))
                .unwrap_or(usize::MAX),
            k.as_str(),
        )
    });
    let mut rows = Vec::new();
    for name in names {
        let v = &claims[name.as_str()];
        let mut value = cell(show(v));
        if TIMES.contains(&name.as_str()) {
            if let Some(t) = v.as_i64() {
                let rel = relative(t, now);
                let (note, paint): (String, fn(&Style, &str) -> String) = match name.as_str() {
                    "exp" if t <= now => (format!("expired {rel}"), Style::bad),
                    "exp" => (format!("expires {rel}"), Style::good),
                    "nbf" | "iat" if t > now => (format!("{rel}: in the future"), Style::warn),
                    _ => (rel, |_, s| s.to_owned()),
                };
                let plain = format!("{t}  {}  ({note})", format_utc(t));
                let shown = format!(
                    "{t}  {}  {}",
                    format_utc(t),
                    paint(style, &format!("({note})"))
                );
                value = (plain, shown);
            }
        }
        let row = vec![cell(format!("  {name}")), value];
        rows.push(row);
    }
    out.push_str(&table(&rows));
    if claims.get("exp").is_none() {
        out.push_str(&style.warn("  (no exp: the SDK refuses tokens without one)\n"));
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
