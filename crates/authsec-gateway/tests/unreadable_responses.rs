//! An upstream answer that may carry a tool list but cannot be read for filtering — compressed,
//! of an unknown media type, without a media type, invalid JSON or SSE — is withheld (502 with a
//! JSON-RPC error, or a final error event in a stream already under way), never passed through.
//! The upstream here is a fault-injection fake that answers whatever the test sets.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// What the fake upstream answers to every request: headers and body.
#[derive(Clone, Default)]
struct Reply {
    headers: Vec<(&'static str, &'static str)>,
    body: String,
}

async fn fake_upstream(reply: Arc<Mutex<Reply>>) -> String {
    let app = axum::Router::new().fallback(move || {
        let reply = reply.lock().unwrap().clone();
        async move {
            let mut resp = axum::response::Response::new(axum::body::Body::from(reply.body));
            for (name, value) in reply.headers {
                resp.headers_mut().insert(name, value.parse().unwrap());
            }
            resp
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/mcp")
}

/// A full list: `echo` is allowed to `demo:read`, `get-env` is unmapped.
const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"},{"name":"get-env","description":"secret"}]}}"#;

fn withheld() -> Value {
    json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32603,
           "message": "the MCP server's response could not be read for filtering and was withheld"}})
}

struct Setup {
    reply: Arc<Mutex<Reply>>,
    gw: Running,
}

async fn setup() -> Setup {
    let reply = Arc::new(Mutex::new(Reply::default()));
    let upstream = fake_upstream(reply.clone()).await;
    let gw = gateway(&upstream).await;
    Setup { reply, gw }
}

impl Setup {
    async fn list_with(&self, reply: Reply) -> reqwest::Response {
        *self.reply.lock().unwrap() = reply;
        let token = self.gw.token("demo:read");
        let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
        post(&self.gw.mcp, Some(&token), None, &list)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_list_the_gateway_cannot_read_is_502_with_a_json_rpc_error() {
    let s = setup().await;
    let cases: Vec<(&str, Reply)> = vec![
        (
            "gzip-encoded",
            Reply {
                headers: vec![
                    ("content-type", "application/json"),
                    ("content-encoding", "gzip"),
                ],
                body: LIST.into(),
            },
        ),
        (
            "application/json-rpc",
            Reply {
                headers: vec![("content-type", "application/json-rpc")],
                body: LIST.into(),
            },
        ),
        (
            "no content type",
            Reply {
                headers: vec![],
                body: LIST.into(),
            },
        ),
        (
            "truncated JSON",
            Reply {
                headers: vec![("content-type", "application/json")],
                body: LIST[..LIST.len() - 3].into(),
            },
        ),
        (
            "a duplicated tools member",
            Reply {
                headers: vec![("content-type", "application/json")],
                body:
                    r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[],"tools":[{"name":"get-env"}]}}"#
                        .into(),
            },
        ),
    ];
    for (what, reply) in cases {
        let resp = s.list_with(reply).await;
        assert_eq!(resp.status(), 502, "{what}");
        assert_eq!(resp.headers()["content-type"], "application/json", "{what}");
        assert!(resp.headers().get("content-encoding").is_none(), "{what}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body, withheld(), "{what}");
    }
}

#[tokio::test]
async fn readable_answers_pass_filtered_or_unchanged() {
    let s = setup().await;
    // A list under any id spelling is filtered.
    let resp = s
        .list_with(Reply {
            headers: vec![("content-type", "application/json; charset=utf-8")],
            body: LIST.replace("\"id\":1", "\"id\":1.0"),
        })
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"jsonrpc": "2.0", "id": 1.0,
               "result": {"tools": [{"name": "echo"}], "cacheScope": "private"}})
    );
    // A body of another media type that cannot hold a list passes unchanged.
    let resp = s
        .list_with(Reply {
            headers: vec![("content-type", "text/plain")],
            body: "upstream is warming up".into(),
        })
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "upstream is warming up");
}

#[tokio::test]
async fn an_unreadable_event_ends_the_stream_with_an_error_event() {
    let s = setup().await;
    let resp = s
        .list_with(Reply {
            headers: vec![("content-type", "text/event-stream")],
            body: format!("id: 1\ndata: {LIST}\n\ndata: {{\"result\":{{\"tools\":[{{\"name\":\"get-env\"\n\ndata: {LIST}\n\n"),
        })
        .await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(!text.contains("get-env"), "{text}");
    let events = SseParser::default().push(text.as_bytes());
    assert_eq!(
        events,
        [
            json!({"jsonrpc": "2.0", "id": 1,
                   "result": {"tools": [{"name": "echo"}], "cacheScope": "private"}}),
            withheld()
        ]
    );
}
