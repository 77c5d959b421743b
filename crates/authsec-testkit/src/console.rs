//! The authsec console, running for real on loopback (a SQLite file in a temp dir), with
//! helpers for the calls end-to-end tests make: create a resource server and a client, map a
//! tool, get a token from the token service.

use authsec_console::{Console, ConsoleConfig};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The admin token the console is started with.
pub const ADMIN_TOKEN: &str = "testkit-console-admin-token-0123456789";

/// A client id and its secret.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// `client_id`.
    pub id: String,
    /// `client_secret`.
    pub secret: String,
}

/// A console serving until [`TestConsole::stop`] (or the end of the test).
pub struct TestConsole {
    /// `http://127.0.0.1:PORT`: the console's public URL and its tokens' issuer.
    pub base: String,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), authsec_console::Error>>>,
    _dir: tempfile::TempDir,
}

impl TestConsole {
    /// Starts a console with an empty database and [`ADMIN_TOKEN`].
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = ConsoleConfig::new(
            dir.path().join("console.db").to_string_lossy().into_owned(),
            "127.0.0.1:0".parse().expect("loopback address"),
        );
        config.admin_token = Some(ADMIN_TOKEN.into());
        let console = Console::bind(config).await.expect("start the console");
        let base = console.public_url().to_owned();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(console.serve(async move {
            let _ = rx.await;
        }));
        TestConsole {
            base,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("HTTP client"),
            stop: Some(tx),
            task: Some(task),
            _dir: dir,
        }
    }

    /// Stops serving (pending long polls are answered first) and waits until it has stopped.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("console task")
                .expect("console stopped cleanly");
        }
    }

    /// The console's JWKS URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.base)
    }

    /// An admin API call: status and the JSON body (`Null` when the body is not JSON).
    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("admin API request");
        let status = resp.status();
        let text = resp.text().await.expect("admin API body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Creates a resource server for `resource_uri` defining `scopes`; returns its id and the
    /// secret it authenticates to the console with.
    pub async fn resource_server(
        &self,
        name: &str,
        resource_uri: &str,
        scopes: &[&str],
    ) -> Credentials {
        let scopes: Vec<Value> = scopes.iter().map(|n| json!({ "name": n })).collect();
        let (status, body) = self
            .admin(
                Method::POST,
                "/api/resource-servers",
                Some(json!({"name": name, "resource_uri": resource_uri, "scopes": scopes})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Credentials {
            id: str_at(&body, "/resource_server/id"),
            secret: str_at(&body, "/credentials/client_secret"),
        }
    }

    /// Registers a machine client of resource server `rs` allowed `scopes`.
    pub async fn client(&self, rs: &str, name: &str, scopes: &[&str]) -> Credentials {
        let (status, body) = self
            .admin(
                Method::POST,
                &format!("/api/resource-servers/{rs}/clients"),
                Some(json!({"name": name, "allowed_scopes": scopes})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Credentials {
            id: str_at(&body, "/client/client_id"),
            secret: str_at(&body, "/client_secret"),
        }
    }

    /// A `private_key_jwt` machine client of resource server `rs` with the public keys
    /// `jwks`; its `client_id`.
    pub async fn client_with_jwks(
        &self,
        rs: &str,
        name: &str,
        scopes: &[&str],
        jwks: &Value,
    ) -> String {
        let (status, body) = self
            .admin(
                Method::POST,
                &format!("/api/resource-servers/{rs}/clients"),
                Some(json!({"name": name, "allowed_scopes": scopes, "jwks": jwks})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(body.get("client_secret").is_none(), "{body}");
        str_at(&body, "/client/client_id")
    }

    /// An admin decision for `tool` of resource server `rs`: any of `scopes`, or public when
    /// `scopes` is empty.
    pub async fn map(&self, rs: &str, tool: &str, scopes: &[&str]) {
        let body = if scopes.is_empty() {
            json!({"state": "public"})
        } else {
            json!({"state": "mapped", "scopes": scopes})
        };
        let (status, b) = self
            .admin(
                Method::PUT,
                &format!("/api/resource-servers/{rs}/tools/{tool}/mapping"),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{b}");
    }

    /// A token from the token service (client credentials, RFC 8707 `resource`).
    pub async fn token(&self, client: &Credentials, resource: &str, scope: &str) -> String {
        let resp = self
            .http
            .post(format!("{}/oauth/token", self.base))
            .basic_auth(&client.id, Some(&client.secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", resource),
                ("scope", scope),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.expect("token response");
        str_at(&body, "/access_token")
    }
}

fn str_at(body: &Value, pointer: &str) -> String {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {body}"))
        .to_owned()
}
