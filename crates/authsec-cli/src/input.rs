//! Reading a token (argument or stdin) without ever echoing it.

use std::io::{IsTerminal, Read};

/// Reads the token from `arg`, or from stdin when `arg` is `-` or absent. Accepts a bare
/// token, `Bearer <token>` or `Authorization: Bearer <token>`; surrounding whitespace and
/// quotes are dropped.
pub fn read_token(arg: Option<&str>) -> Result<String, String> {
    let raw = match arg {
        Some(t) if t != "-" => {
            eprintln!(
                "authsec: note: a token passed as an argument is visible in shell history and `ps`; \
                 prefer `-` and stdin"
            );
            t.to_owned()
        }
        _ => {
            let stdin = std::io::stdin();
            if arg.is_none() && stdin.is_terminal() {
                return Err("no token: pass it as an argument or pipe it on stdin (`-`)".into());
            }
            let mut s = String::new();
            stdin
                .lock()
                .read_to_string(&mut s)
                .map_err(|e| format!("cannot read the token from stdin: {e}"))?;
            s
        }
    };
    let token = clean(&raw);
    if token.is_empty() {
        return Err("no token: the input is empty".into());
    }
    Ok(token.to_owned())
}

fn clean(raw: &str) -> &str {
    let mut t = raw.trim();
    if let Some(rest) = strip_prefix_ci(t, "authorization:") {
        t = rest.trim_start();
    }
    if let Some(rest) = strip_prefix_ci(t, "bearer ") {
        t = rest.trim_start();
    }
    t.trim_matches(|c| c == '"' || c == '\'').trim()
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn bearer_prefixes_and_quotes_are_removed() {
        assert_eq!(clean("  a.b.c\n"), "a.b.c");
        assert_eq!(clean("Bearer a.b.c"), "a.b.c");
        assert_eq!(clean("Authorization: bearer  a.b.c"), "a.b.c");
        assert_eq!(clean("\"a.b.c\""), "a.b.c");
    }
}
