//! The layer fails closed on input an attacker controls: how a request id is spelled, a body on
//! a GET or DELETE, a token-less request carrying someone's session, and traffic meant to evict
//! session bindings. Each test drives the real notes server over loopback HTTP.

mod common;

use authsec_notes::Transport;
use common::*;
use serde_json::{json, Value};

const READER_TOOLS: [&str; 3] = ["list_notes", "server_time", "whoami"];

/// A raw JSON-RPC body, so that the id can be spelled any way JSON allows.
async fn send_raw(h: &Harness, token: &str, session: &str, body: &str) -> reqwest::Response {
    h.post(Some(token), Some(session))
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn tools_list_is_filtered_however_the_request_id_is_spelled() {
    let h = Harness::start().await;
    let token = h.token("notes:read");
    let session = h.initialize(Some(&token)).await;
    for id in ["2", "2.0", "2e0", "20E-1", "-0", "0.0", "\"2\"", "1e-0"] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list","params":{{}}}}"#);
        let resp = send_raw(&h, &token, &session, &body).await;
        assert_eq!(resp.status(), 200, "id {id}");
        let m = messages(resp).await;
        assert_eq!(m.len(), 1, "id {id}: {m:?}");
        assert_eq!(tool_names(&m[0]), READER_TOOLS, "id {id}");
    }
}

#[tokio::test]
async fn tools_list_is_filtered_however_the_id_is_spelled_without_sessions_too() {
    let h = Harness::start_with(Transport::StatelessJson, |b| b).await;
    let token = h.token("notes:read");
    for id in ["2.0", "2e0", "-0"] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list","params":{{}}}}"#);
        let resp = h.post(Some(&token), None).body(body).send().await.unwrap();
        assert_eq!(resp.status(), 200, "id {id}");
        assert_eq!(
            tool_names(&messages(resp).await[0]),
            READER_TOOLS,
            "id {id}"
        );
    }
}

fn body_not_allowed() -> Value {
    json!({"error": "invalid_request",
           "error_description": "invalid request: only POST requests carry a body",
           "reason": "body_not_allowed"})
}

#[tokio::test]
async fn get_or_delete_with_a_body_is_400_and_the_session_is_untouched() {
    let h = Harness::start().await;
    let token = h.token("notes:read");
    let session = h.initialize(Some(&token)).await;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();

    let get = h
        .http
        .get(&h.mcp)
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-session-id", &session)
        .header("last-event-id", "0")
        .body(ping.clone())
        .send()
        .await
        .unwrap();
    let (status, www, b) = denial(get).await;
    assert_eq!(status, 400);
    assert_eq!(
        www,
        Some(format!(
            "Bearer error=\"invalid_request\", error_description=\"invalid request: only POST requests carry a body\", resource_metadata=\"{}\"",
            h.metadata_url()
        ))
    );
    assert_eq!(b, body_not_allowed());

    let delete = h
        .http
        .delete(&h.mcp)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("mcp-session-id", &session)
        .body(ping)
        .send()
        .await
        .unwrap();
    let (status, _, b) = denial(delete).await;
    assert_eq!((status, b), (400, body_not_allowed()));

    // The DELETE was refused, so the session lives on.
    let resp = h
        .send(
            Some(&token),
            Some(&session),
            &call(2, "list_notes", json!({})),
        )
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn in_band_mode_never_lets_a_request_without_a_token_touch_a_session() {
    let h = Harness::start_with(Transport::Sessions, |b| b.in_band_denials(true)).await;
    let victim = h.token_for("victim", "notes:read");
    let session = h.initialize(Some(&victim)).await;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});

    // GET and DELETE without a token, with the victim's session and a lifecycle body: plain
    // HTTP 401 (they carry no JSON-RPC request to answer in band).
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let resp = h
            .http
            .request(method.clone(), &h.mcp)
            .header("accept", "text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-session-id", &session)
            .body(ping.to_string())
            .send()
            .await
            .unwrap();
        let (status, _, b) = denial(resp).await;
        assert_eq!(status, 401, "{method}");
        assert_eq!(b["reason"], "no_token", "{method}");
    }

    // A POSTed ping with the victim's session and no token is answered in band, by the layer.
    let resp = h.send(None, Some(&session), &ping).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["id"], 1);
    assert_eq!(v["error"]["code"], -32001);
    assert_eq!(
        v["error"]["data"]["_meta"]["authsec/denial"]["reason"],
        "no_token"
    );

    // The victim's session is intact.
    let resp = h
        .send(
            Some(&victim),
            Some(&session),
            &call(2, "list_notes", json!({})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(messages(resp).await[0]["result"]["isError"], false);
}

#[tokio::test]
async fn random_session_ids_are_404_and_cannot_evict_anyones_session() {
    let h = Harness::start().await;
    let alice = h.token_for("alice", "notes:read");
    let mallory = h.token_for("mallory", "notes:read");
    let session = h.initialize(Some(&alice)).await;

    // 10,050 requests with random session ids, 32 at a time: each is unknown here.
    let unknown = json!({"error": "invalid_request",
                         "error_description": "unknown session: start a new session",
                         "reason": "session_unknown"});
    let body = call(1, "list_notes", json!({})).to_string();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for batch in 0..(10_050 / 50) {
        let sends = (0..50).map(|i| {
            let id = format!("{:08x}-{batch}-{i}-random", batch * 50 + i);
            h.post(Some(&mallory), Some(&id)).body(body.clone()).send()
        });
        for resp in futures_join_all(sends).await {
            *statuses.entry(resp.unwrap().status().as_u16()).or_default() += 1;
        }
    }
    assert_eq!(statuses, [(404, 10_050)].into_iter().collect());
    let (status, www, b) = denial(
        h.post(Some(&mallory), Some("0000-random"))
            .body(body.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, www, b), (404, None, unknown));

    // Alice's session is still hers alone.
    let (status, _, b) = denial(
        h.post(Some(&mallory), Some(&session))
            .body(body.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, b["reason"].as_str()),
        (403, Some("session_principal_mismatch"))
    );
    let resp = h
        .post(Some(&alice), Some(&session))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// Joins request futures without another dependency.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn instances_sharing_the_session_key_recognise_each_others_sessions() {
    const KEY: &str = "a shared session key of 32+ bytes!";
    let a = Harness::start_with(Transport::Sessions, |b| b.session_key(KEY)).await;
    let alice = a.token_for("alice", "notes:read");
    let session = a.initialize(Some(&alice)).await;

    // Another instance with the same key knows the id is a session of this deployment: a
    // principal other than its owner is refused 403, not told "unknown".
    let b = Harness::start_with(Transport::Sessions, |b| b.session_key(KEY)).await;
    let mallory = b.token_for("mallory", "notes:read");
    let (status, _, body) = denial(b.send(Some(&mallory), Some(&session), &list(1)).await).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (403, Some("session_principal_mismatch"))
    );

    // An instance with another key does not know the session.
    let c = Harness::start_with(Transport::Sessions, |b| {
        b.session_key("another session key, also 32 bytes+")
    })
    .await;
    let (status, _, body) = denial(
        c.send(
            Some(&c.token_for("alice", "notes:read")),
            Some(&session),
            &list(1),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (404, Some("session_unknown"))
    );
}
