//! `authsec diagnose`: configuration from flags, file and environment; evidence from the
//! network only with `--online`; the verdict and findings from `authsec::diagnose`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authsec::config::{Config, ConfigError, RawConfig};
use authsec::diagnose::{
    self, ClockSkew, Diagnosis, Evidence, Finding, IssuerMetadata, KeyEvidence, Outcome, Verdict,
};
use authsec::keys::{self, KeyCache, KeySet, KeySource};
use authsec::policy::{Target, TargetKind};
use authsec::AuthError;
use serde_json::Value;

use crate::cli::{ConfigArgs, DiagnoseArgs};
use crate::output::{cell, table, wrap, Style};
use crate::time::format_utc;

/// Builds the configuration: flags, then `--config FILE`, then `AUTHSEC_*` (first wins).
pub fn build_config(args: &ConfigArgs) -> Result<Config, ConfigError> {
    let flag_vars = args.as_vars();
    let flags = RawConfig::from_vars("AUTHSEC_", |name| {
        flag_vars
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })?;
    let mut file = match &args.config {
        Some(path) => RawConfig::from_toml_file(path)?,
        None => RawConfig::default(),
    };
    // A TOML table would otherwise win over the flag's JSON.
    if args.tool_scopes_json.is_some() {
        file.tool_scopes = None;
    }
    if args.prompt_scopes_json.is_some() {
        file.prompt_scopes = None;
    }
    if args.resource_scopes_json.is_some() {
        file.resource_scopes = None;
    }
    let env = RawConfig::from_vars("AUTHSEC_", |name| std::env::var(name).ok())?;
    flags.or(file).or(env).into_config()
}

pub fn run(args: &DiagnoseArgs, style: &Style) -> Result<ExitCode, String> {
    let config = build_config(&args.config).map_err(|e| e.to_string())?;
    let token = crate::input::read_token(args.token.as_deref())?;
    let evidence = gather(&config, args, &token)?;
    let target = target(args);
    let mut d = diagnose::diagnose(&token, &config, target.as_ref(), &evidence);
    advise(&mut d, &config, args);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&d.to_json()).unwrap_or_default()
        );
    } else {
        print!("{}", render(&d, &config, args, style));
    }
    Ok(match d.verdict {
        Verdict::Allow => ExitCode::SUCCESS,
        Verdict::Deny => ExitCode::from(1),
    })
}

/// The operation asked about: `--tool`, `--prompt` or `--read` (at most one: clap refuses more).
fn target(args: &DiagnoseArgs) -> Option<Target> {
    let DiagnoseArgs {
        tool, prompt, read, ..
    } = args;
    tool.as_deref()
        .map(Target::tool)
        .or_else(|| prompt.as_deref().map(Target::prompt))
        .or_else(|| read.as_deref().map(Target::resource))
}

/// The SDK's hints say what evidence was missing; this adds how to gather it with this
/// command's flags.
fn advise(d: &mut Diagnosis, config: &Config, args: &DiagnoseArgs) {
    let keys_given = args.online || args.jwks_file.is_some();
    for f in &mut d.findings {
        let time_failure = matches!(
            f.error,
            Some(AuthError::Expired { .. } | AuthError::NotYetValid { .. })
        );
        let advice = match (f.check, f.outcome) {
            ("kid" | "signature", Outcome::NotChecked) if !keys_given => {
                "pass --jwks-file FILE or --online to check it"
            }
            ("active", Outcome::NotChecked) if !args.online => "--online asks it",
            ("scope", Outcome::NotChecked) if target(args).is_none() => {
                "pass --tool NAME, --prompt NAME or --read URI to check the policy"
            }
            // The hint of a token with an `iss` says what the unfetched metadata would tell.
            ("iss", Outcome::Fail) if !args.online && !f.actual.is_null() => "--online fetches it",
            ("exp" | "nbf" | "iat", Outcome::Fail)
                if time_failure && !args.online && !config.clock.is_overridden() =>
            {
                "--online measures the skew"
            }
            _ => continue,
        };
        if let Some(hint) = &mut f.hint {
            hint.push_str(" (");
            hint.push_str(advice);
            hint.push(')');
        }
    }
}

/// Keys from `--jwks-file`; with `--online` the issuer's metadata, the JWKS, the clock skew and,
/// when introspection is configured, the introspection endpoint's answer for this token (the
/// token goes nowhere else).
fn gather(config: &Config, args: &DiagnoseArgs, token: &str) -> Result<Evidence, String> {
    let mut evidence = Evidence::default();
    if let Some(path) = &args.jwks_file {
        let bytes =
            std::fs::read(path).map_err(|e| format!("--jwks-file {}: {e}", path.display()))?;
        let set = KeySet::from_json(&bytes)
            .map_err(|e| format!("--jwks-file {}: {e}", path.display()))?;
        evidence.keys = KeyEvidence::Keys {
            set: Arc::new(set),
            source: path.display().to_string(),
        };
    }
    if !args.online {
        return Ok(evidence);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the network runtime: {e}"))?;
    let http = authsec::fetch::HttpClient::new()
        .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
    runtime.block_on(async {
        let discovery = keys::discover(&http, &config.issuer).await;
        evidence.issuer_metadata = Some(IssuerMetadata::from_discovery(&discovery));
        if args.jwks_file.is_none() {
            evidence.keys = fetch_keys(config, &discovery, &http).await;
        }
        evidence.clock_skew = measure_skew(&http, &keys::metadata_urls(&config.issuer)).await;
        if let Some(introspection) = &config.introspection {
            let client = authsec::Introspector::new(
                introspection.clone(),
                http.clone(),
                config.clock.clone(),
                0,
            );
            evidence.introspection = Some(client.call(token).await);
        }
    });
    Ok(evidence)
}

async fn fetch_keys(
    config: &Config,
    discovery: &Result<keys::ServerMetadata, keys::DiscoveryError>,
    http: &authsec::fetch::HttpClient,
) -> KeyEvidence {
    let url = match (&config.jwks_url, discovery) {
        (Some(u), _) => u.clone(),
        (None, Ok(meta)) => match meta.jwks_uri.as_deref().map(absolute_uri) {
            Some(Ok(u)) => u,
            Some(Err(e)) => {
                return KeyEvidence::Unavailable {
                    source: meta.source_url.clone(),
                    error: format!("jwks_uri is not a URL: {e}"),
                }
            }
            None => {
                return KeyEvidence::Unavailable {
                    source: meta.source_url.clone(),
                    error: "the metadata has no jwks_uri".into(),
                }
            }
        },
        (None, Err(e)) => {
            return KeyEvidence::Unavailable {
                source: "the issuer's metadata".into(),
                error: e.to_string(),
            }
        }
    };
    let cache = KeyCache::new(KeySource::Url(url.clone()), http.clone(), Duration::MAX);
    match cache.refresh().await {
        Ok(_) => KeyEvidence::Keys {
            set: cache.current(),
            source: url.to_string(),
        },
        Err(error) => KeyEvidence::Unavailable {
            source: url.to_string(),
            error: error.to_string(),
        },
    }
}

/// `value` as an absolute `http::Uri` (the URL crate's parsing, then the SDK's type).
fn absolute_uri(value: &str) -> Result<http::Uri, String> {
    let url = url::Url::parse(value).map_err(|e| e.to_string())?;
    url.as_str()
        .parse()
        .map_err(|e: http::uri::InvalidUri| e.to_string())
}

/// Reads the authorization server's `Date` header and compares it with this machine's clock
/// at the middle of the request. One-second resolution.
async fn measure_skew(http: &authsec::fetch::HttpClient, urls: &[String]) -> Option<ClockSkew> {
    for url in urls {
        let Ok(uri) = url.parse::<http::Uri>() else {
            continue;
        };
        let before = unix_millis();
        let Ok(resp) = http.get(uri).send().await else {
            continue;
        };
        let after = unix_millis();
        let Some(date) = resp
            .headers()
            .get(http::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
        else {
            continue;
        };
        let server = date.duration_since(UNIX_EPOCH).ok()?.as_millis() as i64;
        let local = (before + after) / 2;
        // The Date header truncates to the second: compare against the middle of it.
        let skew_ms = server + 500 - local;
        return Some(ClockSkew {
            source: format!("the Date header of {url}"),
            server_minus_local_secs: (skew_ms as f64 / 1000.0).round() as i64,
        });
    }
    None
}

fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The human report: a header line, the aligned findings table with details under each
/// non-passing check, the verdict and the predicted response.
pub fn render(d: &Diagnosis, config: &Config, args: &DiagnoseArgs, style: &Style) -> String {
    let mut out = String::new();
    let mode = if args.online {
        "online"
    } else if args.jwks_file.is_some() {
        "offline, keys from --jwks-file"
    } else {
        "offline: signature not checked"
    };
    out.push_str(&format!(
        "token {} judged at {} ({mode})\n",
        d.fingerprint,
        format_utc(d.now)
    ));
    out.push_str(&format!(
        "issuer {}  resource {}{}\n\n",
        config.issuer,
        config.resource_uri,
        target(args)
            .map(|t| match t.kind {
                // "resource" already names the server's URI on this line.
                TargetKind::Resource => format!("  read {}", t.name),
                kind => format!("  {} {}", kind.as_str(), t.name),
            })
            .unwrap_or_default()
    ));
    let mut rows = vec![vec![
        cell(" "),
        cell("check"),
        cell("expected"),
        cell("actual"),
    ]];
    let mut details: Vec<Option<String>> = vec![None];
    for f in &d.findings {
        if args.brief && matches!(f.outcome, Outcome::Pass | Outcome::NotChecked) {
            continue;
        }
        let (mark, paint): (&str, fn(&Style, &str) -> String) = match f.outcome {
            Outcome::Pass => ("✓", Style::good),
            Outcome::Warn => ("!", Style::warn),
            Outcome::Fail => ("✗", Style::bad),
            Outcome::NotChecked => ("-", |_, s| s.to_owned()),
        };
        rows.push(vec![
            (mark.to_owned(), paint(style, mark)),
            cell(f.check),
            cell(truncate(&show(&f.expected), 40)),
            cell(truncate(&show(&f.actual), 40)),
        ]);
        details.push(detail(f, style));
    }
    for (line, detail) in table(&rows).lines().zip(details) {
        out.push_str(line);
        out.push('\n');
        if let Some(d) = detail {
            out.push_str(&d);
        }
    }
    out.push('\n');
    match &d.response {
        None => out.push_str(&format!(
            "{} the SDK would let this request through (200)\n",
            style.good("verdict: ALLOW —")
        )),
        Some(r) => {
            out.push_str(&format!(
                "{} {} {}\n",
                style.bad("verdict: DENY —"),
                r.status.as_u16(),
                d.reason()
            ));
            out.push_str("the SDK would answer:\n");
            out.push_str(&format!(
                "  HTTP/1.1 {} {}\n",
                r.status.as_u16(),
                r.status.canonical_reason().unwrap_or("")
            ));
            if let Some(h) = &r.www_authenticate {
                out.push_str(&format!("  WWW-Authenticate: {h}\n"));
            }
            out.push_str("  Content-Type: application/json\n\n");
            out.push_str(&format!("  {}\n", r.body));
        }
    }
    out
}

fn detail(f: &Finding, style: &Style) -> Option<String> {
    let hint = f.hint.as_deref()?;
    let mut s = String::new();
    if f.outcome == Outcome::Fail || f.outcome == Outcome::Warn {
        for (label, v) in [("expected", &f.expected), ("actual", &f.actual)] {
            let text = show(v);
            if text.chars().count() > 40 {
                s.push_str(&wrap(&format!("{label}: {text}"), "     ", 100));
            }
        }
    }
    let label = match f.outcome {
        Outcome::Fail => style.bad("fix:"),
        Outcome::Warn => style.warn("note:"),
        _ => "note:".to_owned(),
    };
    let plain_label = match f.outcome {
        Outcome::Fail => "fix:",
        _ => "note:",
    };
    let wrapped = wrap(&format!("{plain_label} {hint}"), "     ", 100);
    s.push_str(&wrapped.replacen(plain_label, &label, 1));
    Some(s)
}

/// A JSON value as a person reads it: strings bare, lists comma-separated, absent as `—`.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}
