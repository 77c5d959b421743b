//! Test support: a database per test (a SQLite file in a temp dir, or a fresh schema in the
//! PostgreSQL database named by `AUTHSEC_TEST_DATABASE_URL`), a console serving it on
//! loopback, and small HTTP helpers.
//!
//! `backend_tests!(name, …)` turns each `async fn name(db: &TestDb)` into two tests,
//! `name::sqlite` and `name::postgres`; the latter is `#[ignore]`d (a plain run reports it
//! skipped, with the reason) and fails when run without `AUTHSEC_TEST_DATABASE_URL` —
//! `scripts/with-postgres.sh` sets it; CI runs `--run-ignored all` under it.
#![allow(dead_code)]

use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use authsec_console::{Clock, Console, ConsoleConfig};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::Connection as _;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Optional client credentials (id, secret).
pub type Creds<'a> = Option<(&'a str, &'a str)>;

/// The admin token most tests configure.
pub const ADMIN: &str = "test-admin-token-0123456789abcdef";

/// Generates `mod name { sqlite(), postgres() }` for each `async fn name(db: &TestDb)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let db = $crate::common::TestDb::sqlite();
                    super::$name(&db).await;
                }

                #[ignore = "needs PostgreSQL: scripts/with-postgres.sh cargo nextest run --run-ignored all"]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let db = $crate::common::TestDb::postgres().await.expect(
                        "AUTHSEC_TEST_DATABASE_URL is not set: run under scripts/with-postgres.sh",
                    );
                    super::$name(&db).await;
                    db.cleanup().await;
                }
            }
        )*
    };
}

/// Like `backend_tests!`, for behaviour that exists only with PostgreSQL (several instances).
#[macro_export]
macro_rules! postgres_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[ignore = "needs PostgreSQL: scripts/with-postgres.sh cargo nextest run --run-ignored all"]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let db = $crate::common::TestDb::postgres().await.expect(
                        "AUTHSEC_TEST_DATABASE_URL is not set: run under scripts/with-postgres.sh",
                    );
                    super::$name(&db).await;
                    db.cleanup().await;
                }
            }
        )*
    };
}

/// One test's database.
pub struct TestDb {
    /// The database URL the console opens.
    pub url: String,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A SQLite file in a fresh temporary directory (the file does not exist yet).
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("console.db");
        TestDb {
            url: path.to_string_lossy().into_owned(),
            backend: "sqlite",
            _dir: Some(dir),
            pg: None,
        }
    }

    /// A fresh schema in the PostgreSQL test database, made the connection's search path.
    pub async fn postgres() -> Option<TestDb> {
        let base = std::env::var("AUTHSEC_TEST_DATABASE_URL").ok()?;
        if base.is_empty() {
            return None;
        }
        let schema = format!(
            "t_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let mut conn = sqlx::PgConnection::connect(&base)
            .await
            .expect("connect to AUTHSEC_TEST_DATABASE_URL");
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await
            .expect("create schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        Some(TestDb {
            url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
            backend: "postgres",
            _dir: None,
            pg: Some((base, schema)),
        })
    }

    /// Drops the PostgreSQL schema (SQLite files go with the temp dir).
    pub async fn cleanup(&self) {
        if let Some((base, schema)) = &self.pg {
            if let Ok(mut conn) = sqlx::PgConnection::connect(base).await {
                let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(&mut conn)
                    .await;
            }
        }
    }
}

/// Options for a test console.
#[derive(Clone)]
pub struct Options {
    pub admin_token: Option<String>,
    pub long_poll_timeout: Duration,
    pub clock_offset: Arc<AtomicI64>,
    pub token_lifetime: Duration,
    pub public_url: Option<String>,
    pub key_encryption_key: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            admin_token: Some(ADMIN.to_owned()),
            long_poll_timeout: Duration::from_secs(25),
            clock_offset: Arc::new(AtomicI64::new(0)),
            token_lifetime: Duration::from_secs(3600),
            public_url: None,
            key_encryption_key: None,
        }
    }
}

/// A console serving on 127.0.0.1 with an ephemeral port.
pub struct TestConsole {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The issuer (public URL): `base` unless configured.
    pub issuer: String,
    /// The admin token to use.
    pub admin_token: String,
    /// The token generated at this start, if any.
    pub initial_admin_token: Option<String>,
    /// A one-time web console sign-in link made at start.
    pub sign_in_link: String,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), authsec_console::Error>>>,
}

impl TestConsole {
    /// Starts a console with the default options.
    pub async fn start(db: &TestDb) -> TestConsole {
        Self::start_with(db, Options::default()).await
    }

    /// Starts a console.
    pub async fn start_with(db: &TestDb, opts: Options) -> TestConsole {
        let mut config = ConsoleConfig::new(db.url.clone(), "127.0.0.1:0".parse().unwrap());
        config.admin_token = opts.admin_token.clone();
        config.long_poll_timeout = opts.long_poll_timeout;
        config.token_lifetime = opts.token_lifetime;
        config.clock = Clock::with_offset(opts.clock_offset.clone());
        config.public_url = opts.public_url.clone();
        config.key_encryption_key = opts.key_encryption_key.clone();
        let console = Console::bind(config).await.expect("console starts");
        let base = format!("http://{}", console.local_addr());
        let issuer = console.public_url().to_owned();
        let initial_admin_token = console.initial_admin_token().map(str::to_owned);
        let sign_in_link = console.sign_in_link().await.expect("a sign-in link");
        let admin_token = opts
            .admin_token
            .clone()
            .or_else(|| initial_admin_token.clone())
            .unwrap_or_default();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(console.serve(async move {
            let _ = rx.await;
        }));
        TestConsole {
            base,
            issuer,
            admin_token,
            initial_admin_token,
            sign_in_link,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// Stops the console gracefully and waits until its store is closed.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("join").expect("console stopped cleanly");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An admin request; returns status and JSON body (`null` when empty).
    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.admin_token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body, got {text:?}"))
        };
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.admin(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.admin(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.admin(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.admin(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.admin(Method::DELETE, path, None).await
    }

    /// Creates a resource server with scopes; returns (id, secret).
    pub async fn create_rs(&self, uri: &str, scopes: &[&str]) -> (String, String) {
        let scopes: Vec<Value> = scopes.iter().map(|s| json!({ "name": s })).collect();
        let (status, body) = self
            .post(
                "/api/resource-servers",
                json!({ "name": "notes", "resource_uri": uri, "scopes": scopes }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["resource_server"]["id"].as_str().unwrap().to_owned(),
            body["credentials"]["client_secret"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    }

    /// Sets a mapping through the admin API.
    pub async fn map(&self, rs: &str, tool: &str, body: Value) -> Value {
        let (status, b) = self
            .put(
                &format!("/api/resource-servers/{rs}/tools/{tool}/mapping"),
                body,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{b}");
        b
    }

    /// Creates a machine client; returns (client_id, secret).
    pub async fn create_client(&self, rs: &str, scopes: &[&str]) -> (String, String) {
        let (status, body) = self
            .post(
                &format!("/api/resource-servers/{rs}/clients"),
                json!({ "name": "agent", "allowed_scopes": scopes }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["client"]["client_id"].as_str().unwrap().to_owned(),
            body["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    /// `GET …/sdk-policy` with Basic credentials; returns status, headers and JSON body.
    pub async fn sdk_policy(
        &self,
        rs: &str,
        creds: Option<(&str, &str)>,
        query: &str,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self
            .http
            .get(self.url(&format!("/authsec/resource-servers/{rs}/sdk-policy{query}")));
        if let Some((id, secret)) = creds {
            req = req.basic_auth(id, Some(secret));
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        (status, headers, resp.json().await.expect("JSON body"))
    }

    /// `PUT …/sdk-manifest` with Basic credentials.
    pub async fn manifest(&self, rs: &str, secret: &str, tools: Value) -> (StatusCode, Value) {
        let resp = self
            .http
            .put(self.url(&format!("/authsec/resource-servers/{rs}/sdk-manifest")))
            .basic_auth(rs, Some(secret))
            .json(&tools)
            .send()
            .await
            .expect("request");
        (resp.status(), resp.json().await.expect("JSON body"))
    }

    /// A form POST to an OAuth endpoint; `basic` adds client_secret_basic credentials.
    pub async fn oauth(
        &self,
        path: &str,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body, got {text:?}"))
        };
        (status, headers, json)
    }

    /// Issues a token for a client (client_secret_basic).
    pub async fn token(&self, client: (&str, &str), form: &[(&str, &str)]) -> String {
        let mut f = vec![("grant_type", "client_credentials")];
        f.extend_from_slice(form);
        let (status, _, body) = self.oauth("/oauth/token", Some(client), &f).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Audit entries (newest first), optionally for one resource server.
    pub async fn audit(&self, rs: Option<&str>) -> Vec<Value> {
        let path = match rs {
            Some(rs) => format!("/api/audit?resource_server_id={rs}&limit=500"),
            None => "/api/audit?limit=500".to_owned(),
        };
        let (status, body) = self.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["entries"].as_array().unwrap().clone()
    }
}

/// Decodes the JSON header and claims of a compact JWS (no verification).
pub fn decode_jwt(token: &str) -> (Value, Value) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = token.split('.');
    let h = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
    let c = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
    (
        serde_json::from_slice(&h).unwrap(),
        serde_json::from_slice(&c).unwrap(),
    )
}

/// `Authorization: Basic` for raw header tests.
pub fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// The errors of `value` against `components.schemas.{name}` of the OpenAPI document (the
/// subset of JSON Schema it uses: type, required, properties, additionalProperties, items,
/// enum, minimum, $ref).
pub fn schema_errors(name: &str, value: &Value) -> Vec<String> {
    let doc: Value = serde_json::from_str(authsec_console::OPENAPI_JSON).unwrap();
    let mut errors = Vec::new();
    check(
        &doc,
        &doc["components"]["schemas"][name],
        value,
        name,
        &mut errors,
    );
    errors
}

fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        return check(doc, &doc["components"]["schemas"][name], value, at, errors);
    }
    assert!(schema.is_object(), "{at}: no schema");
    let json_type = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.contains(&json_type) {
        errors.push(format!("{at}: {json_type} is not {types:?}"));
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), value.as_f64()) {
        if n < min {
            errors.push(format!("{at}: {n} < {min}"));
        }
    }
    if let Value::Object(members) = value {
        for r in schema["required"].as_array().into_iter().flatten() {
            if !members.contains_key(r.as_str().unwrap()) {
                errors.push(format!("{at}: {r} is missing"));
            }
        }
        for (k, v) in members {
            match schema["properties"].get(k) {
                Some(s) => check(doc, s, v, &format!("{at}.{k}"), errors),
                None if schema["properties"].is_object() => {
                    errors.push(format!("{at}: {k} is not in the schema"))
                }
                None => {}
            }
        }
    }
    if let Value::Array(items) = value {
        for (i, v) in items.iter().enumerate() {
            check(doc, &schema["items"], v, &format!("{at}[{i}]"), errors);
        }
    }
}
