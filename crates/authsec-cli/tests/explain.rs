//! `authsec explain`: a denial in words and the client's next step.

mod common;

use authsec_testkit::{now, TestKey};
use common::{authsec, json};
use serde_json::{json, Value};

const RM: &str = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";

#[test]
fn a_raw_403_response_on_stdin_says_step_up_with_the_challenge_scope() {
    let response = format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nWWW-Authenticate: Bearer \
         error=\"insufficient_scope\", error_description=\"tool add_note requires more scope\", \
         scope=\"notes:write notes:read\", resource_metadata=\"{RM}\"\r\n\r\n\
         {{\"error\":\"insufficient_scope\",\"error_description\":\"tool add_note requires more scope\",\
         \"reason\":\"insufficient_scope\",\"tool\":\"add_note\",\"required_scopes\":[\"notes:write\"],\
         \"granted_scopes\":[\"notes:read\"]}}\r\n"
    );
    let run = authsec(&["explain"], &response, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(
            "what happened: 403 insufficient_scope reason insufficient_scope: tool add_note requires more scope\n"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  required scopes    notes:write\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  granted scopes     notes:read\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("what to do next: step_up\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("re-authorize requesting scope=\"notes:write notes:read\""),
        "{}",
        run.stdout
    );
}

#[test]
fn json_output_has_the_parsed_fields_and_the_next_step() {
    let run = authsec(
        &[
            "explain",
            "--json",
            "--status",
            "401",
            &format!("Bearer resource_metadata=\"{RM}\", scope=\"notes:read\""),
        ],
        "",
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "error",
            "error_description",
            "granted_scopes",
            "meaning",
            "next_step",
            "prompt",
            "reason",
            "required_scopes",
            "resource",
            "resource_metadata",
            "scope",
            "status",
            "tool"
        ]
    );
    assert_eq!(v["status"], 401);
    assert_eq!(
        (&v["tool"], &v["prompt"], &v["resource"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    assert_eq!(v["error"], Value::Null);
    assert_eq!(v["reason"], "no_token");
    assert_eq!(v["scope"], json!(["notes:read"]));
    assert_eq!(v["next_step"]["action"], "authorize");
    assert_eq!(v["next_step"]["scopes"], json!(["notes:read"]));
    assert!(v["next_step"]["advice"].as_str().unwrap().contains(RM));
}

#[test]
fn the_guides_403_body_alone_is_enough_to_step_up() {
    let run = authsec(
        &[
            "explain",
            "--json",
            "--body",
            r#"{"error":"insufficient_scope","required_scopes":["rs-xyz:tools:write"]}"#,
        ],
        "",
        &[],
    );
    let v = json(&run);
    assert_eq!(v["next_step"]["action"], "step_up");
    assert_eq!(v["next_step"]["scopes"], json!(["rs-xyz:tools:write"]));
}

#[test]
fn a_resource_denial_names_the_resource_and_its_fix() {
    let run = authsec(
        &[
            "explain",
            "--json",
            "--status",
            "403",
            "--body",
            r#"{"error":"insufficient_scope","error_description":"resource notes://secret is not mapped to any scope","reason":"resource_unmapped","resource":"notes://secret"}"#,
        ],
        "",
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run);
    assert_eq!(v["resource"], "notes://secret");
    assert_eq!(v["tool"], Value::Null);
    assert_eq!(v["reason"], "resource_unmapped");
    assert_eq!(v["next_step"]["action"], "fix_server");
    assert_eq!(
        v["next_step"]["advice"],
        "nothing the client can do: resource notes://secret has no policy entry, so it is \
         denied to everyone; map it to a scope (or [] for public) (server operator: \
         `authsec diagnose` shows the failing check)"
    );
}

#[test]
fn invalid_token_without_detail_points_at_the_issuer() {
    let run = authsec(
        &[
            "explain",
            r#"WWW-Authenticate: Bearer error="invalid_token""#,
        ],
        "",
        &[],
    );
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("what to do next: reauthorize"),
        "{}",
        run.stdout
    );
    let flat = run.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("most often an iss mismatch"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_token_in_the_query_string_is_a_request_to_fix() {
    let run = authsec(
        &[
            "explain",
            "--json",
            "--status",
            "400",
            "--www-authenticate",
            r#"Bearer error="invalid_request", error_description="invalid request: access token in the query string""#,
        ],
        "",
        &[],
    );
    let v = json(&run);
    assert_eq!(v["reason"], "token_in_query");
    assert_eq!(v["next_step"]["action"], "fix_request");
    assert!(v["next_step"]["advice"]
        .as_str()
        .unwrap()
        .contains("Authorization: Bearer header"));
}

#[test]
fn unparseable_input_exits_2() {
    let run = authsec(&["explain", "Bearer error=\"unterminated"], "", &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unterminated quoted string"),
        "{}",
        run.stderr
    );
    let run = authsec(&["explain", "--body", "<html>"], "", &[]);
    assert_eq!(run.code, 2);
}

#[test]
fn explain_reads_back_what_diagnose_predicts() {
    let token = TestKey::es256("k1").token(&json!({
        "iss": "https://auth.example.com", "aud": "https://mcp.example.com/mcp/",
        "sub": "u", "exp": now() + 60
    }));
    let diag = json(&authsec(
        &[
            "diagnose",
            "--json",
            "--issuer",
            "https://auth.example.com",
            "--resource",
            "https://mcp.example.com/mcp",
            "--supported-scopes",
            "notes:read",
            "-",
        ],
        &token,
        &[],
    ));
    let response = &diag["response"];
    let header = response["www_authenticate"].as_str().unwrap();
    let body = response["body"].to_string();
    let status = response["status"].to_string();
    let v = json(&authsec(
        &[
            "explain",
            "--json",
            "--status",
            &status,
            "--www-authenticate",
            header,
            "--body",
            &body,
        ],
        "",
        &[],
    ));
    assert_eq!(v["reason"], "audience_mismatch");
    assert_eq!(v["error"], "invalid_token");
    assert_eq!(v["scope"], json!(["notes:read"]));
    assert_eq!(v["resource_metadata"], RM);
    assert_eq!(v["next_step"]["action"], "reauthorize");
    assert!(v["next_step"]["advice"]
        .as_str()
        .unwrap()
        .contains("RFC 8707"));
}
