//! `authsec diagnose`: every flavour of the troubleshooting guide, with its finding, its hint
//! and the exact response the SDK would send; the `--json` schema; configuration precedence.

mod common;

use authsec_testkit::{jwks, now, TestKey};
use common::{authsec, json, Run};
use serde_json::{json, Value};

const ISS: &str = "https://auth.example.com";
const RES: &str = "https://mcp.example.com/mcp";
const RM: &str = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
const POLICY: &str = r#"{"add_note":["rs-525da3b4:tools:write"],"list_notes":["rs-525da3b4:tools:read"],"server_time":[]}"#;

fn key() -> TestKey {
    TestKey::rsa("k1", "RS256")
}

/// Claims that pass every check.
fn good() -> Value {
    json!({
        "iss": ISS, "aud": RES, "sub": "user-1", "client_id": "client-1",
        "scope": "rs-525da3b4:tools:read rs-525da3b4:tools:write",
        "iat": now() - 60, "exp": now() + 3600,
    })
}

fn with(mut claims: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

fn base_args() -> Vec<String> {
    [
        "diagnose",
        "--json",
        "--issuer",
        ISS,
        "--resource",
        RES,
        "--tool-scopes-json",
        POLICY,
    ]
    .map(String::from)
    .to_vec()
}

fn diagnose_with(token: &str, extra: &[&str]) -> (Run, Value) {
    let mut args = base_args();
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push("-".into());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = authsec(&argv, token, &[]);
    let v = json(&run);
    (run, v)
}

fn diagnose(claims: Value, extra: &[&str]) -> (Run, Value) {
    diagnose_with(&key().token(&claims), extra)
}

fn finding<'v>(v: &'v Value, check: &str) -> &'v Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} finding in {v:#}"))
}

fn hint(v: &Value, check: &str) -> String {
    finding(v, check)["hint"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn assert_hint(v: &Value, check: &str, parts: &[&str]) {
    let h = hint(v, check);
    for p in parts {
        assert!(h.contains(p), "{check} hint lacks {p:?}: {h}");
    }
}

fn assert_denied_401(v: &Value, description: &str, reason: &str, scope: &str) {
    assert_eq!(v["verdict"], "deny");
    assert_eq!(v["status"], 401);
    assert_eq!(v["reason"], reason);
    assert_eq!(
        v["response"],
        json!({
            "status": 401,
            "www_authenticate": format!(
                "Bearer error=\"invalid_token\", error_description=\"{description}\", \
                 resource_metadata=\"{RM}\", scope=\"{scope}\""
            ),
            "body": {"error": "invalid_token", "error_description": description, "reason": reason},
        })
    );
}

const ALL_SCOPES: &str = "rs-525da3b4:tools:read rs-525da3b4:tools:write";

/// A file in a temporary folder of its own; both are deleted when the test drops it (also when
/// it fails), so runs leave nothing behind.
struct TempFile {
    path: String,
    _dir: tempfile::TempDir,
}

fn temp_file(name: &str, contents: &str) -> TempFile {
    let dir = tempfile::Builder::new()
        .prefix("authsec-cli-test-")
        .tempdir()
        .unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap();
    TempFile {
        path: path.display().to_string(),
        _dir: dir,
    }
}

fn jwks_file(name: &str, keys: &[&TestKey]) -> TempFile {
    temp_file(name, &jwks(keys).to_string())
}

// --- verdict and schema -------------------------------------------------------------------

#[test]
fn a_good_token_is_allowed_with_exit_code_0() {
    let (run, v) = diagnose(good(), &["--tool", "add_note"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(v["verdict"], "allow");
    assert_eq!(v["status"], 200);
    assert_eq!(v["reason"], "allowed");
    assert_eq!(
        v["response"],
        json!({"status": 200, "www_authenticate": null, "body": null})
    );
    for f in v["findings"].as_array().unwrap() {
        assert_ne!(f["ok"], json!(false), "{f}");
    }
}

#[test]
fn json_output_has_exactly_the_documented_keys() {
    let (run, v) = diagnose(with(good(), json!({"aud": null})), &[]);
    assert_eq!(run.code, 1);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["findings", "reason", "response", "status", "verdict"]
    );
    let keys: Vec<&str> = v["response"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["body", "status", "www_authenticate"]);
    let checks: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys, ["actual", "check", "expected", "hint", "ok"], "{f}");
            assert!(f["ok"].is_boolean() || f["ok"].is_null());
            f["check"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        checks,
        [
            "size",
            "format",
            "alg",
            "crit",
            "cty",
            "typ",
            "kid",
            "signature",
            "iss",
            "aud",
            "exp",
            "nbf",
            "iat",
            "sub",
            "policy",
            "scope"
        ]
    );
    assert_eq!(v["status"], v["response"]["status"]);
}

#[test]
fn every_failure_is_reported_but_the_first_in_validator_order_decides() {
    let claims = with(
        good(),
        json!({"iss": "https://old-auth.example.com", "aud": "client-1", "exp": now() - 7200}),
    );
    let (_, v) = diagnose(claims, &[]);
    for check in ["iss", "aud", "exp"] {
        assert_eq!(finding(&v, check)["ok"], false, "{check}");
    }
    assert_denied_401(&v, "issuer mismatch", "issuer_mismatch", ALL_SCOPES);
}

#[test]
fn offline_the_signature_is_not_checked_and_the_verdict_assumes_it() {
    let (_, v) = diagnose(good(), &[]);
    let sig = finding(&v, "signature");
    assert_eq!(sig["ok"], Value::Null);
    assert_eq!(sig["actual"], "not checked (offline)");
    assert_eq!(finding(&v, "kid")["ok"], Value::Null);
    assert_eq!(v["verdict"], "allow");
}

// --- aud ----------------------------------------------------------------------------------

#[test]
fn missing_aud_says_to_configure_the_as_or_pass_resource() {
    let (run, v) = diagnose(with(good(), json!({"aud": null})), &[]);
    assert_eq!(run.code, 1);
    let f = finding(&v, "aud");
    assert_eq!(f["ok"], false);
    assert_eq!(f["expected"], RES);
    assert_eq!(f["actual"], Value::Null);
    assert_hint(
        &v,
        "aud",
        &[
            "no aud",
            "Configure it to set aud",
            &format!("resource={RES}"),
            "RFC 8707",
        ],
    );
    assert_denied_401(&v, "audience mismatch", "audience_mismatch", ALL_SCOPES);
}

#[test]
fn aud_equal_to_the_client_id_points_at_hydra_audience_config_and_the_stopgap() {
    let (_, v) = diagnose(
        with(good(), json!({"aud": "client-1"})),
        &["--tool", "add_note"],
    );
    assert_hint(
        &v,
        "aud",
        &[
            "\"client-1\" is an OAuth client id",
            "Hydra",
            "audience configuration",
            "AUTHSEC_LEGACY_CLIENT_ID_AUDIENCES=client-1",
            "not recommended",
        ],
    );
    // A 401 for a mapped tool names that tool's scopes.
    assert_denied_401(
        &v,
        "audience mismatch",
        "audience_mismatch",
        "rs-525da3b4:tools:write",
    );
}

#[test]
fn legacy_client_id_audience_is_accepted_with_a_warning() {
    let (run, v) = diagnose(
        with(good(), json!({"aud": "client-1"})),
        &["--legacy-client-id-audiences", "client-1"],
    );
    assert_eq!(run.code, 0);
    let f = finding(&v, "aud");
    assert_eq!(f["ok"], true);
    assert_eq!(f["expected"], json!([RES, "client-1"]));
    assert_hint(
        &v,
        "aud",
        &["legacy_client_id_audiences", "Not recommended long-term"],
    );
}

#[test]
fn trailing_slash_on_the_token_side_is_named() {
    let (_, v) = diagnose(with(good(), json!({"aud": format!("{RES}/")})), &[]);
    assert_hint(
        &v,
        "aud",
        &[
            "Trailing slash: the token's aud \"https://mcp.example.com/mcp/\" ends with '/'",
            "the configured resource \"https://mcp.example.com/mcp\" does not",
            "the slash matters",
        ],
    );
    assert_denied_401(&v, "audience mismatch", "audience_mismatch", ALL_SCOPES);
}

#[test]
fn trailing_slash_on_the_configuration_side_is_named() {
    let (_, v) = diagnose(good(), &["--resource", "https://mcp.example.com/mcp/"]);
    assert_hint(
        &v,
        "aud",
        &["Trailing slash: the configured resource \"https://mcp.example.com/mcp/\" ends with '/'"],
    );
}

#[test]
fn aud_array_without_the_resource_is_explained_as_an_array() {
    let aud = json!([
        "https://other.example.com/api",
        "https://mcp.example.com/mcp/"
    ]);
    let (_, v) = diagnose(with(good(), json!({"aud": aud})), &[]);
    assert_eq!(finding(&v, "aud")["actual"], aud);
    assert_hint(
        &v,
        "aud",
        &[
            "aud is an array of 2",
            "none does",
            "Trailing slash: the token's aud",
        ],
    );
}

#[test]
fn aud_array_containing_the_resource_passes() {
    let (run, v) = diagnose(
        with(good(), json!({"aud": ["https://x.example", RES]})),
        &[],
    );
    assert_eq!(run.code, 0);
    assert_eq!(finding(&v, "aud")["ok"], true);
}

// --- iss ----------------------------------------------------------------------------------

#[test]
fn issuer_trailing_slash_names_the_configuration_side() {
    let (_, v) = diagnose(good(), &["--issuer", "https://auth.example.com/"]);
    assert_hint(
        &v,
        "iss",
        &[
            "Trailing slash: the configured issuer \"https://auth.example.com/\" ends with '/'",
            "AUTHSEC_ISSUER to exactly \"https://auth.example.com\"",
        ],
    );
    assert_denied_401(&v, "issuer mismatch", "issuer_mismatch", ALL_SCOPES);
}

#[test]
fn issuer_trailing_slash_names_the_token_side() {
    let (_, v) = diagnose(
        with(good(), json!({"iss": "https://auth.example.com/"})),
        &[],
    );
    assert_hint(
        &v,
        "iss",
        &["Trailing slash: the token's iss \"https://auth.example.com/\""],
    );
}

#[test]
fn moved_issuer_offline_suggests_reauthorizing_and_online_discovery() {
    let (_, v) = diagnose(
        with(good(), json!({"iss": "https://auth-dev.example.com"})),
        &[],
    );
    assert_hint(
        &v,
        "iss",
        &[
            "issued by \"https://auth-dev.example.com\"",
            "moved (e.g. from auth-dev.example.com to auth.example.com)",
            "re-authorize",
            "--online",
            "https://auth.example.com/.well-known/oauth-authorization-server",
        ],
    );
}

// --- exp / nbf / iat / sub ----------------------------------------------------------------

#[test]
fn expired_token_says_refresh_and_mentions_clock_skew() {
    let (_, v) = diagnose(with(good(), json!({"exp": now() - 3 * 3600})), &[]);
    let f = finding(&v, "exp");
    assert_eq!(f["ok"], false);
    assert!(f["actual"].as_str().unwrap().ends_with("3h ago"), "{f}");
    assert_hint(&v, "exp", &["expired 3h ago", "refresh", "NTP"]);
    assert_denied_401(&v, "expired", "token_expired", ALL_SCOPES);
}

#[test]
fn expiry_within_the_leeway_is_accepted() {
    let (run, v) = diagnose(with(good(), json!({"exp": now() - 10})), &[]);
    assert_eq!(run.code, 0);
    assert_eq!(finding(&v, "exp")["ok"], true);
    let (run, _) = diagnose(
        with(good(), json!({"exp": now() - 10})),
        &["--clock-skew-secs", "0"],
    );
    assert_eq!(run.code, 1);
}

#[test]
fn missing_exp_is_a_missing_claim() {
    let (_, v) = diagnose(with(good(), json!({"exp": null})), &[]);
    assert_eq!(finding(&v, "exp")["actual"], Value::Null);
    assert_hint(&v, "exp", &["no exp"]);
    assert_denied_401(&v, "missing exp", "missing_claim", ALL_SCOPES);
}

#[test]
fn nbf_in_the_future_is_not_yet_valid() {
    let (_, v) = diagnose(with(good(), json!({"nbf": now() + 600})), &[]);
    assert_hint(
        &v,
        "nbf",
        &["not valid yet (nbf)", "beyond the 60s leeway", "NTP"],
    );
    assert_denied_401(&v, "not yet valid", "token_not_yet_valid", ALL_SCOPES);
}

#[test]
fn iat_in_the_future_is_not_yet_valid() {
    let (_, v) = diagnose(with(good(), json!({"iat": now() + 600})), &[]);
    assert_eq!(finding(&v, "nbf")["ok"], true);
    assert_hint(&v, "iat", &["issued in the future (iat)"]);
    assert_denied_401(&v, "not yet valid", "token_not_yet_valid", ALL_SCOPES);
}

#[test]
fn missing_sub_is_a_warning_not_a_denial() {
    let (run, v) = diagnose(with(good(), json!({"sub": null})), &[]);
    assert_eq!(run.code, 0);
    let f = finding(&v, "sub");
    assert_eq!(f["ok"], true);
    assert_hint(&v, "sub", &["no sub", "Principal::subject() is None"]);
}

// --- header: alg / typ --------------------------------------------------------------------

#[test]
fn hmac_alg_is_refused_with_the_asymmetric_fix() {
    let token = key().sign(&json!({"alg": "HS256", "typ": "at+jwt"}), &good());
    let (_, v) = diagnose_with(&token, &[]);
    assert_eq!(finding(&v, "alg")["actual"], "HS256");
    assert_hint(&v, "alg", &["shared-secret (HMAC)", "asymmetric"]);
    assert_denied_401(&v, "algorithm not allowed", "alg_not_allowed", ALL_SCOPES);
}

#[test]
fn alg_none_is_refused() {
    let token = key().sign(&json!({"alg": "none"}), &good());
    let (_, v) = diagnose_with(&token, &[]);
    assert_hint(&v, "alg", &["unsigned (alg none)"]);
    assert_eq!(v["reason"], "alg_not_allowed");
}

#[test]
fn typ_jwt_under_rfc9068_policy_is_refused() {
    let token = key().sign(&json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}), &good());
    let (_, v) = diagnose_with(&token, &["--typ-policy", "rfc9068"]);
    let f = finding(&v, "typ");
    assert_eq!(f["expected"], json!(["at+jwt", "application/at+jwt"]));
    assert_eq!(f["actual"], "JWT");
    assert_hint(&v, "typ", &["rfc9068", "AUTHSEC_TYP_POLICY=lenient"]);
    assert_eq!(v["reason"], "invalid_typ");
    assert_eq!(v["status"], 401);
}

#[test]
fn an_opaque_token_is_malformed_with_the_introspection_hint() {
    let (run, v) = diagnose_with("2YotnFZFEjr1zCsicMWpAA", &[]);
    assert_eq!(run.code, 1);
    let checks: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["check"])
        .collect();
    assert_eq!(checks, [&json!("size"), &json!("format")]);
    assert_hint(&v, "format", &["opaque access token", "introspection"]);
    assert_eq!(v["reason"], "malformed_token");
    assert!(!run.stdout.contains("2YotnFZFEjr1zCsicMWpAA"));
}

// --- keys and signature (--jwks-file) -----------------------------------------------------

#[test]
fn signature_is_verified_with_a_jwks_file() {
    let file = jwks_file("good.json", &[&key()]);
    let (run, v) = diagnose(good(), &["--jwks-file", &file.path]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(finding(&v, "signature")["actual"], "verified");
    assert_eq!(finding(&v, "kid")["expected"], json!(["k1"]));
}

#[test]
fn a_tampered_token_has_a_bad_signature() {
    let file = jwks_file("tamper.json", &[&key()]);
    let token = key().token(&good());
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    let other = key().token(&with(good(), json!({"scope": "admin"})));
    parts[1] = other.split('.').nth(1).unwrap().to_owned();
    let (_, v) = diagnose_with(&parts.join("."), &["--jwks-file", &file.path]);
    assert_eq!(finding(&v, "signature")["ok"], false);
    assert_hint(&v, "signature", &["does not verify"]);
    assert_denied_401(&v, "bad signature", "bad_signature", ALL_SCOPES);
}

#[test]
fn an_unknown_kid_lists_the_known_ones() {
    let file = jwks_file("rotated.json", &[&TestKey::es256("k2")]);
    let (_, v) = diagnose(good(), &["--jwks-file", &file.path]);
    assert_hint(&v, "kid", &["no key with kid \"k1\"", "kids k2", "rotated"]);
    assert_denied_401(&v, "unknown signing key", "unknown_key", ALL_SCOPES);
}

#[test]
fn an_unknown_kid_from_another_issuer_is_an_issuer_mismatch() {
    let file = jwks_file("moved.json", &[&TestKey::es256("k2")]);
    let claims = with(good(), json!({"iss": "https://auth-dev.example.com"}));
    let (_, v) = diagnose(claims, &["--jwks-file", &file.path]);
    assert_eq!(finding(&v, "kid")["ok"], false);
    assert_denied_401(&v, "issuer mismatch", "issuer_mismatch", ALL_SCOPES);
}

#[test]
fn a_key_pinned_to_another_alg_is_refused() {
    let es = TestKey::es256("k1");
    let file = jwks_file("pinned.json", &[&es]);
    let (_, v) = diagnose(good(), &["--jwks-file", &file.path]);
    assert_hint(&v, "signature", &["pinned to ES256", "alg RS256"]);
    assert_eq!(v["reason"], "key_alg_mismatch");
}

// --- scope, tool, policy ------------------------------------------------------------------

fn assert_denied_403(v: &Value, required: &str, granted: &[&str]) {
    assert_eq!(v["verdict"], "deny");
    assert_eq!(v["status"], 403);
    assert_eq!(v["reason"], "insufficient_scope");
    let mut scope = vec![required];
    scope.extend(granted.iter().filter(|g| **g != required));
    assert_eq!(
        v["response"],
        json!({
            "status": 403,
            "www_authenticate": format!(
                "Bearer error=\"insufficient_scope\", error_description=\"tool add_note requires \
                 more scope\", scope=\"{}\", resource_metadata=\"{RM}\"",
                scope.join(" ")
            ),
            "body": {
                "error": "insufficient_scope",
                "error_description": "tool add_note requires more scope",
                "reason": "insufficient_scope",
                "tool": "add_note",
                "required_scopes": [required],
                "granted_scopes": granted,
            },
        })
    );
}

#[test]
fn scope_differing_only_in_case_is_called_out() {
    let claims = with(good(), json!({"scope": "rs-525da3b4:tools:Write"}));
    let (_, v) = diagnose(claims, &["--tool", "add_note"]);
    let f = finding(&v, "scope");
    assert_eq!(f["expected"], "rs-525da3b4:tools:write");
    assert_eq!(f["actual"], "rs-525da3b4:tools:Write");
    assert_hint(
        &v,
        "scope",
        &[
            "differs from required \"rs-525da3b4:tools:write\" only in letter case",
            "case-sensitive",
        ],
    );
    assert_denied_403(&v, "rs-525da3b4:tools:write", &["rs-525da3b4:tools:Write"]);
}

#[test]
fn read_scope_for_a_write_tool_names_the_closest_granted_scope() {
    let claims = with(good(), json!({"scope": "rs-525da3b4:tools:read"}));
    let (_, v) = diagnose(claims, &["--tool", "add_note"]);
    assert_hint(
        &v,
        "scope",
        &[
            "needs rs-525da3b4:tools:write; the token grants rs-525da3b4:tools:read",
            "closest granted scope is \"rs-525da3b4:tools:read\"",
            "consented to a subset",
            "step up",
        ],
    );
    assert_denied_403(&v, "rs-525da3b4:tools:write", &["rs-525da3b4:tools:read"]);
}

#[test]
fn scope_in_another_namespace_is_called_out() {
    let claims = with(good(), json!({"scope": "rs-00000000:tools:write"}));
    let (_, v) = diagnose(claims, &["--tool", "add_note"]);
    assert_hint(
        &v,
        "scope",
        &["another namespace (\"rs-00000000\", required \"rs-525da3b4\")"],
    );
}

#[test]
fn a_scope_typo_is_called_out() {
    let claims = with(good(), json!({"scope": "rs-525da3b4:tools:wrte"}));
    let (_, v) = diagnose(claims, &["--tool", "add_note"]);
    assert_hint(
        &v,
        "scope",
        &["Granted \"rs-525da3b4:tools:wrte\" is close to required \"rs-525da3b4:tools:write\": a typo?"],
    );
    assert_denied_403(&v, "rs-525da3b4:tools:write", &["rs-525da3b4:tools:wrte"]);
}

#[test]
fn a_tool_name_differing_only_in_case_is_called_out() {
    let (_, v) = diagnose(good(), &["--tool", "Add_Note"]);
    assert_hint(
        &v,
        "tool",
        &["\"add_note\" is mapped: the names differ only in letter case (tool names are exact). Map it"],
    );
    assert_eq!(v["reason"], "tool_unmapped");
}

#[test]
fn misspelled_tool_suggests_the_closest_mapped_name() {
    let (run, v) = diagnose(good(), &["--tool", "add_notes"]);
    assert_eq!(run.code, 1);
    let f = finding(&v, "tool");
    assert_eq!(
        f["expected"],
        json!(["add_note", "list_notes", "server_time"])
    );
    assert_hint(
        &v,
        "tool",
        &["no policy entry", "Did you mean \"add_note\"?", "Tools tab"],
    );
    assert_eq!(
        v["response"],
        json!({
            "status": 403,
            "www_authenticate": format!(
                "Bearer error=\"insufficient_scope\", error_description=\"tool add_notes is not \
                 mapped to any scope\", resource_metadata=\"{RM}\""
            ),
            "body": {
                "error": "insufficient_scope",
                "error_description": "tool add_notes is not mapped to any scope",
                "reason": "tool_unmapped",
                "tool": "add_notes",
            },
        })
    );
}

#[test]
fn a_public_tool_needs_no_scope() {
    let (run, v) = diagnose(
        with(good(), json!({"scope": null})),
        &["--tool", "server_time"],
    );
    assert_eq!(run.code, 0);
    assert_eq!(finding(&v, "scope")["expected"], "nothing (public tool)");
}

#[test]
fn open_policy_mode_allows_any_tool_with_a_warning() {
    let (run, v) = diagnose(good(), &["--tool", "anything", "--policy-mode", "open"]);
    assert_eq!(run.code, 0);
    assert_eq!(finding(&v, "policy")["ok"], true);
    assert_hint(
        &v,
        "policy",
        &["policy_mode is open", "any valid token may call any tool"],
    );
    assert_eq!(finding(&v, "tool")["ok"], Value::Null);
}

#[test]
fn remote_policy_mode_warns_that_the_live_policy_may_differ() {
    let (_, v) = diagnose(
        good(),
        &[
            "--tool",
            "add_note",
            "--policy-mode",
            "remote_with_local_fallback",
            "--resource-server-id",
            "rs-525da3b4",
        ],
    );
    assert_hint(
        &v,
        "policy",
        &[
            "remote_with_local_fallback",
            "Tools tab",
            "https://auth.example.com",
        ],
    );
}

#[test]
fn an_empty_policy_warns_that_every_tool_is_denied() {
    let token = key().token(&good());
    let run = authsec(
        &[
            "diagnose",
            "--json",
            "--issuer",
            ISS,
            "--resource",
            RES,
            "--tool",
            "add_note",
            "-",
        ],
        &token,
        &[],
    );
    let v = json(&run);
    assert_hint(&v, "policy", &["no tool is mapped"]);
    assert_eq!(v["reason"], "tool_unmapped");
}

// --- prompts and resources ---------------------------------------------------------------

const PROMPTS: &str = r#"{"summarize_notes":["rs-525da3b4:tools:read"],"hello":[]}"#;
const RESOURCES: &str =
    r#"{"notes://all":["rs-525da3b4:tools:read"],"notes://note/{id}":["rs-525da3b4:tools:admin"]}"#;

fn diagnose_target(claims: Value, target: &[&str]) -> (Run, Value) {
    let mut extra = vec![
        "--prompt-scopes-json",
        PROMPTS,
        "--resource-scopes-json",
        RESOURCES,
    ];
    extra.extend_from_slice(target);
    diagnose(claims, &extra)
}

#[test]
fn a_prompt_is_decided_by_the_prompt_policy() {
    let (run, v) = diagnose_target(good(), &["--prompt", "summarize_notes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(v["verdict"], "allow");
    let prompt = finding(&v, "prompt");
    assert_eq!(prompt["ok"], true);
    assert_eq!(prompt["expected"], json!(["hello", "summarize_notes"]));
    assert_eq!(prompt["actual"], "summarize_notes");
    assert_eq!(finding(&v, "scope")["expected"], "rs-525da3b4:tools:read");
    assert_eq!(
        finding(&v, "policy")["actual"],
        "local_only, 2 prompt(s) mapped"
    );

    let (_, v) = diagnose_target(good(), &["--prompt", "hello"]);
    assert_eq!(finding(&v, "scope")["expected"], "nothing (public prompt)");
}

#[test]
fn an_unmapped_prompt_names_the_closest_and_its_variable() {
    let (run, v) = diagnose_target(good(), &["--prompt", "summarise_notes"]);
    assert_eq!(run.code, 1);
    assert_eq!(v["reason"], "prompt_unmapped");
    assert_hint(
        &v,
        "prompt",
        &[
            "prompt \"summarise_notes\" has no policy entry, so it is denied to everyone (403 prompt_unmapped)",
            "Did you mean \"summarize_notes\"?",
            "AUTHSEC_PROMPT_SCOPES_JSON or [prompt_scopes]",
        ],
    );
    assert_eq!(v["response"]["body"]["prompt"], "summarise_notes");
    assert_eq!(v["response"]["status"], 403);
}

#[test]
fn a_resource_read_is_decided_by_its_uri_template_with_the_exact_challenge() {
    let (run, v) = diagnose_target(good(), &["--read", "notes://note/7"]);
    assert_eq!(run.code, 1);
    assert_eq!(finding(&v, "resource")["actual"], "notes://note/7");
    assert_eq!(
        finding(&v, "resource")["expected"],
        json!(["notes://all", "notes://note/{id}"])
    );
    assert_eq!(finding(&v, "scope")["expected"], "rs-525da3b4:tools:admin");
    assert_hint(
        &v,
        "scope",
        &["resource \"notes://note/7\" needs rs-525da3b4:tools:admin; the token grants"],
    );
    assert_eq!(
        v["response"],
        json!({
            "status": 403,
            "www_authenticate": format!(
                "Bearer error=\"insufficient_scope\", error_description=\"resource notes://note/7 \
                 requires more scope\", scope=\"rs-525da3b4:tools:admin {ALL_SCOPES}\", \
                 resource_metadata=\"{RM}\""
            ),
            "body": {
                "error": "insufficient_scope",
                "error_description": "resource notes://note/7 requires more scope",
                "reason": "insufficient_scope",
                "resource": "notes://note/7",
                "required_scopes": ["rs-525da3b4:tools:admin"],
                "granted_scopes": ["rs-525da3b4:tools:read", "rs-525da3b4:tools:write"],
            },
        })
    );
    let (run, v) = diagnose_target(good(), &["--read", "notes://all"]);
    assert_eq!(run.code, 0, "{v:#}");
}

#[test]
fn a_resource_uri_differing_only_in_case_is_called_out() {
    let (_, v) = diagnose_target(good(), &["--read", "NOTES://all"]);
    assert_eq!(v["reason"], "resource_unmapped");
    assert_hint(
        &v,
        "resource",
        &["\"notes://all\" is mapped: the URIs differ only in letter case (URIs are compared byte for byte)"],
    );
}

#[test]
fn a_401_for_a_resource_read_names_the_resources_scopes() {
    let (_, v) = diagnose_target(
        with(good(), json!({"exp": now() - 3600})),
        &["--read", "notes://all"],
    );
    assert_eq!(v["status"], 401);
    let challenge = v["response"]["www_authenticate"].as_str().unwrap();
    assert!(
        challenge.ends_with("scope=\"rs-525da3b4:tools:read\""),
        "{challenge}"
    );
}

#[test]
fn only_one_of_tool_prompt_and_read_is_accepted() {
    let token = key().token(&good());
    let run = authsec(
        &[
            "diagnose",
            "--tool",
            "add_note",
            "--read",
            "notes://all",
            "-",
        ],
        &token,
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
}

// --- configuration sources ----------------------------------------------------------------

#[test]
fn configuration_errors_exit_2_with_the_field_and_the_fix() {
    let run = authsec(
        &[
            "diagnose",
            "--issuer",
            ISS,
            "--resource",
            "mcp.example.com/mcp",
            "-",
        ],
        "x.y.z",
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("resource_uri (AUTHSEC_RESOURCE_URI) = \"mcp.example.com/mcp\"")
            && run.stderr.contains("Fix: use the full public URL"),
        "{}",
        run.stderr
    );
    let run = authsec(&["diagnose", "-"], "x.y.z", &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("issuer (AUTHSEC_ISSUER): is required"),
        "{}",
        run.stderr
    );
}

#[test]
fn flags_win_over_the_file_and_the_file_over_the_environment() {
    let file = temp_file(
        "authsec.toml",
        &format!(
            "issuer = \"https://file.example.com\"\nresource_uri = \"{RES}\"\nclock_skew_secs = 5\n\
             [tool_scopes]\nadd_note = [\"from:file\"]\n"
        ),
    );
    let token = key().token(&with(good(), json!({"iss": "https://flag.example.com"})));
    let env = [
        ("AUTHSEC_ISSUER", "https://env.example.com"),
        ("AUTHSEC_RESOURCE_URI", "https://env.example.com/mcp"),
        ("AUTHSEC_CLOCK_SKEW_SECS", "7"),
        ("AUTHSEC_TYP_POLICY", "rfc9068"),
    ];
    let cfg = file.path.clone();
    let run = authsec(
        &[
            "diagnose",
            "--json",
            "--config",
            &cfg,
            "--issuer",
            "https://flag.example.com",
            "--tool",
            "add_note",
            "-",
        ],
        &token,
        &env,
    );
    let v = json(&run);
    // flag
    assert_eq!(finding(&v, "iss")["expected"], "https://flag.example.com");
    assert_eq!(finding(&v, "iss")["ok"], true);
    // file over env
    assert_eq!(finding(&v, "aud")["expected"], RES);
    assert!(finding(&v, "exp")["expected"]
        .as_str()
        .unwrap()
        .ends_with("(now − 5s)"));
    assert_eq!(finding(&v, "scope")["expected"], "from:file");
    // env where neither sets it
    assert_eq!(
        finding(&v, "typ")["expected"],
        json!(["at+jwt", "application/at+jwt"])
    );
    // a --tool-scopes-json flag beats the file's [tool_scopes] table
    let run = authsec(
        &[
            "diagnose",
            "--json",
            "--config",
            &cfg,
            "--tool-scopes-json",
            r#"{"add_note":["from:flag"]}"#,
            "--tool",
            "add_note",
            "-",
        ],
        &token,
        &[],
    );
    assert_eq!(finding(&json(&run), "scope")["expected"], "from:flag");
}

#[test]
fn the_environment_alone_is_enough() {
    let token = key().token(&good());
    let run = authsec(
        &["diagnose", "--json", "--tool", "list_notes", "-"],
        &token,
        &[
            ("AUTHSEC_ISSUER", ISS),
            ("AUTHSEC_RESOURCE_URI", RES),
            ("AUTHSEC_TOOL_SCOPES_JSON", POLICY),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
}

// --- human output -------------------------------------------------------------------------

#[test]
fn human_output_is_an_aligned_table_with_marks_hints_and_the_predicted_response() {
    let token = key().token(&with(good(), json!({"aud": format!("{RES}/")})));
    let run = authsec(
        &[
            "diagnose",
            "--issuer",
            ISS,
            "--resource",
            RES,
            "--tool-scopes-json",
            POLICY,
            "-",
        ],
        &token,
        &[],
    );
    assert_eq!(run.code, 1);
    let out = &run.stdout;
    assert!(
        !out.contains("\x1b["),
        "no colour when stdout is not a terminal"
    );
    assert!(out.contains(&format!("token {}", authsec::Fingerprint::of(&token))));
    assert!(!out.contains(&token));
    let aud = out.lines().find(|l| l.starts_with("✗  aud")).unwrap();
    let iss = out.lines().find(|l| l.starts_with("✓  iss")).unwrap();
    assert_eq!(
        aud.find(RES),
        iss.find(ISS),
        "expected column aligned:\n{out}"
    );
    assert!(
        out.contains("     fix: Trailing slash: the token's aud"),
        "{out}"
    );
    assert!(out.lines().any(|l| l.starts_with("-  signature")), "{out}");
    assert!(
        out.contains("verdict: DENY — 401 audience_mismatch"),
        "{out}"
    );
    assert!(out.contains(&format!(
        "  WWW-Authenticate: Bearer error=\"invalid_token\", error_description=\"audience mismatch\", resource_metadata=\"{RM}\", scope=\"{ALL_SCOPES}\"\n"
    )));
    assert!(out.contains(
        "  {\"error\":\"invalid_token\",\"error_description\":\"audience mismatch\",\"reason\":\"audience_mismatch\"}\n"
    ));
}

#[test]
fn brief_output_shows_only_failures_and_warnings() {
    let token = key().token(&with(good(), json!({"sub": null, "exp": now() - 3600})));
    let run = authsec(
        &[
            "diagnose",
            "--brief",
            "--issuer",
            ISS,
            "--resource",
            RES,
            "--tool-scopes-json",
            POLICY,
            "-",
        ],
        &token,
        &[],
    );
    assert_eq!(run.code, 1);
    let marks: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with(['✓', '✗', '!', '-']))
        .collect();
    assert_eq!(marks.len(), 2, "{}", run.stdout);
    assert!(marks[0].starts_with("✗  exp"), "{}", run.stdout);
    assert!(marks[1].starts_with("!  sub"), "{}", run.stdout);
    assert!(run.stdout.contains("verdict: DENY — 401 token_expired"));
}
