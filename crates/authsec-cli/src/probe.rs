//! `authsec probe URL`: conformance of a live MCP server's authorization, with spec references.
//!
//! Requests go only to the probed server, the metadata URLs it advertises and its
//! authorization servers' metadata. A `--token` is sent only to the probed URL, only in the
//! `Authorization` header.

use std::process::ExitCode;
use std::time::Duration;

use authsec::explain::{parse_www_authenticate, Challenge};
use serde_json::{json, Value};

use crate::cli::ProbeArgs;
use crate::output::{cell, table, wrap, Style};

/// How binding a requirement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// A MUST: failing it fails the probe.
    Must,
    /// A SHOULD: reported, does not fail the probe.
    Should,
    /// Optional behaviour, reported for information.
    May,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        }
    }
}

/// One conformance check.
#[derive(Debug, Clone)]
pub struct Check {
    /// Stable identifier.
    pub id: &'static str,
    /// MUST / SHOULD / MAY.
    pub level: Level,
    /// The specification clause.
    pub spec: &'static str,
    /// `Some(true)` passed, `Some(false)` failed, `None` skipped.
    pub ok: Option<bool>,
    /// What was observed.
    pub detail: String,
}

/// A token no server can accept: unsigned (`alg: none`).
const JUNK_TOKEN: &str =
    "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJhdXRoc2VjLXByb2JlIn0.aW52YWxpZA";
const PROTOCOL_VERSION: &str = "2025-11-25";

struct Resp {
    status: u16,
    www_authenticate: Vec<String>,
    session: Option<String>,
    content_type: String,
    body: String,
}

impl Resp {
    fn bearer(&self) -> Option<Challenge> {
        let joined = self.www_authenticate.join(", ");
        parse_www_authenticate(&joined)
            .ok()?
            .into_iter()
            .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
    }
    fn summary(&self) -> String {
        match self.www_authenticate.first() {
            Some(h) => format!("{} with WWW-Authenticate: {h}", self.status),
            None => format!("{} without WWW-Authenticate", self.status),
        }
    }
    /// The JSON-RPC message answering `id`, from a JSON or SSE body.
    fn rpc(&self, id: i64) -> Option<Value> {
        if self.content_type.starts_with("text/event-stream") {
            self.body
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
                .find(|v| v["id"] == json!(id))
        } else {
            serde_json::from_str::<Value>(&self.body)
                .ok()
                .filter(|v| v["id"] == json!(id))
        }
    }
}

struct Prober {
    http: reqwest::Client,
    url: String,
    checks: Vec<Check>,
}

impl Prober {
    fn record(
        &mut self,
        id: &'static str,
        level: Level,
        spec: &'static str,
        ok: Option<bool>,
        detail: impl Into<String>,
    ) {
        self.checks.push(Check {
            id,
            level,
            spec,
            ok,
            detail: detail.into(),
        });
    }

    async fn post(
        &self,
        url: &str,
        token: Option<&str>,
        session: Option<&str>,
        body: &Value,
    ) -> Result<Resp, String> {
        let mut req = self
            .http
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json, text/event-stream")
            .header("MCP-Protocol-Version", PROTOCOL_VERSION)
            .body(body.to_string());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(s) = session {
            req = req.header("Mcp-Session-Id", s);
        }
        let resp = req.send().await.map_err(|e| format!("POST {url}: {e}"))?;
        read(resp).await
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let resp = self
            .http
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("GET {url}: HTTP {}", status.as_u16()));
        }
        let text = resp.text().await.map_err(|e| format!("GET {url}: {e}"))?;
        serde_json::from_str(&text).map_err(|e| format!("GET {url}: not JSON ({e})"))
    }
}

async fn read(resp: reqwest::Response) -> Result<Resp, String> {
    let status = resp.status().as_u16();
    let h = resp.headers();
    let www_authenticate = h
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    let session = h
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let content_type = h
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    // Streams may stay open: read what arrives within a short window.
    let body = match tokio::time::timeout(Duration::from_secs(5), resp.text()).await {
        Ok(Ok(t)) => t,
        _ => String::new(),
    };
    Ok(Resp {
        status,
        www_authenticate,
        session,
        content_type,
        body,
    })
}

fn initialize(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "authsec-probe", "version": env!("CARGO_PKG_VERSION")}
    }})
}

/// The RFC 9728 well-known URLs for `url`: path-suffixed and root.
fn well_known(url: &url::Url) -> (String, String) {
    let origin = url.origin().ascii_serialization();
    let path = url.path();
    let suffixed = if path.is_empty() || path == "/" {
        format!("{origin}/.well-known/oauth-protected-resource")
    } else {
        format!("{origin}/.well-known/oauth-protected-resource{path}")
    };
    (
        suffixed,
        format!("{origin}/.well-known/oauth-protected-resource"),
    )
}

/// The probe's client, with the settings of the SDK's (10 s timeout, 5 s to connect, no
/// redirects, the authsec user agent); the probe speaks MCP, which the SDK's client is not for.
fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("authsec/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("the HTTP client cannot start: {e}"))
}

/// Runs every check against `url`.
pub async fn probe(
    url: &str,
    token: Option<&str>,
    forbidden_tool: Option<&str>,
) -> Result<Vec<Check>, String> {
    let parsed =
        url::Url::parse(url).map_err(|e| format!("{url:?} is not an absolute URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{url:?} is not an http(s) URL"));
    }
    let mut p = Prober {
        http: http_client()?,
        url: url.to_owned(),
        checks: Vec::new(),
    };

    // 1. No token.
    let anon = p.post(url, None, None, &initialize(1)).await?;
    p.record(
        "unauthenticated_401",
        Level::Must,
        "MCP 2025-11-25 authorization §Error Handling; RFC 6750 §3.1",
        Some(anon.status == 401),
        format!("a request without a token got {}", anon.summary()),
    );
    let challenge = anon.bearer();
    p.record(
        "challenge_present",
        Level::Must,
        "RFC 9110 §15.5.2; RFC 6750 §3",
        Some(anon.status != 401 || challenge.is_some()),
        match &challenge {
            Some(_) => "the 401 carries a Bearer challenge".to_owned(),
            None if anon.www_authenticate.is_empty() => {
                "the 401 has no WWW-Authenticate header".into()
            }
            None => format!(
                "no parsable Bearer challenge in {:?}",
                anon.www_authenticate
            ),
        },
    );
    let rm = challenge
        .as_ref()
        .and_then(|c| c.param("resource_metadata"))
        .map(str::to_owned);
    p.record(
        "challenge_resource_metadata",
        Level::Should,
        "MCP 2025-11-25 authorization §Protected Resource Metadata Discovery Requirements; RFC 9728 §5.1",
        Some(rm.is_some()),
        match &rm {
            Some(u) => format!("resource_metadata=\"{u}\""),
            None => "no resource_metadata in the challenge: clients must guess the well-known URL".into(),
        },
    );
    let error = challenge
        .as_ref()
        .and_then(|c| c.param("error"))
        .map(str::to_owned);
    p.record(
        "no_error_without_token",
        Level::Should,
        "RFC 6750 §3.1 (no error code when the request has no authentication)",
        challenge.as_ref().map(|_| error.is_none()),
        match (&error, &challenge) {
            (Some(e), _) => format!(
                "the challenge carries error=\"{e}\"{} although no token was sent",
                challenge
                    .as_ref()
                    .and_then(|c| c.param("error_description"))
                    .map(|d| format!(", error_description=\"{d}\""))
                    .unwrap_or_default()
            ),
            (None, Some(_)) => "no error code, as RFC 6750 §3.1 asks".into(),
            (None, None) => "no challenge to inspect".into(),
        },
    );
    let scope = challenge
        .as_ref()
        .and_then(|c| c.param("scope"))
        .map(str::to_owned);
    p.record(
        "challenge_scope",
        Level::Should,
        "MCP 2025-11-25 authorization §Scope Selection Strategy",
        challenge.as_ref().map(|_| scope.is_some()),
        match &scope {
            Some(s) => format!("scope=\"{s}\""),
            None => {
                "no scope in the challenge: clients fall back to all of scopes_supported".into()
            }
        },
    );

    // 2. Protected resource metadata.
    let (suffixed, root) = well_known(&parsed);
    let mut documents: Vec<(String, Value, Level)> = Vec::new();
    if let Some(rm) = &rm {
        match p.get_json(rm).await {
            Ok(doc) => {
                p.record(
                    "prm_at_resource_metadata",
                    Level::Must,
                    "RFC 9728 §3, §5.1",
                    Some(true),
                    format!("{rm} serves the metadata"),
                );
                documents.push((rm.clone(), doc, Level::Must));
            }
            Err(e) => p.record(
                "prm_at_resource_metadata",
                Level::Must,
                "RFC 9728 §3, §5.1",
                Some(false),
                e,
            ),
        }
    }
    match p.get_json(&suffixed).await {
        Ok(doc) => {
            p.record("prm_path_suffixed", Level::Should, "RFC 9728 §3.1; MCP 2025-11-25 authorization §Protected Resource Metadata Discovery Requirements", Some(true), format!("{suffixed} serves the metadata"));
            if !documents.iter().any(|(u, _, _)| *u == suffixed) {
                documents.push((suffixed.clone(), doc, Level::Must));
            }
        }
        Err(e) => p.record("prm_path_suffixed", Level::Should, "RFC 9728 §3.1; MCP 2025-11-25 authorization §Protected Resource Metadata Discovery Requirements", Some(false), e),
    }
    if root != suffixed {
        match p.get_json(&root).await {
            Ok(doc) => {
                p.record("prm_root", Level::May, "MCP 2025-11-25 authorization §Protected Resource Metadata Discovery Requirements (root fallback)", Some(true), format!("{root} serves the metadata"));
                if !documents.iter().any(|(u, _, _)| *u == root) {
                    documents.push((root.clone(), doc, Level::Should));
                }
            }
            Err(e) => p.record("prm_root", Level::May, "MCP 2025-11-25 authorization §Protected Resource Metadata Discovery Requirements (root fallback)", Some(false), e),
        }
    }
    p.record(
        "prm_discoverable",
        Level::Must,
        "MCP 2025-11-25 authorization §Authorization Server Discovery (servers MUST implement RFC 9728)",
        Some(!documents.is_empty()),
        if documents.is_empty() {
            "no protected resource metadata at the challenge's URL or the well-known URLs".to_owned()
        } else {
            format!("found at {}", documents.iter().map(|(u, _, _)| u.as_str()).collect::<Vec<_>>().join(", "))
        },
    );
    for (doc_url, doc, level) in &documents {
        let resource = doc["resource"].as_str();
        p.record(
            "prm_resource_identical",
            *level,
            "RFC 9728 §3.3 (resource MUST be identical to the URL the metadata was derived from)",
            Some(resource == Some(url)),
            match resource {
                Some(r) if r == url => format!("{doc_url}: resource \"{r}\" is the probed URL"),
                Some(r) if r.trim_end_matches('/') == url.trim_end_matches('/') => format!(
                    "{doc_url}: resource \"{r}\" differs from \"{url}\" by a trailing slash"
                ),
                Some(r) => format!("{doc_url}: resource \"{r}\" is not \"{url}\""),
                None => format!("{doc_url}: no resource member"),
            },
        );
    }
    let Some((doc_url, doc, _)) = documents.first().cloned() else {
        return finish_with_tokens(p, token, forbidden_tool).await;
    };
    let servers: Vec<String> = doc["authorization_servers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    p.record(
        "prm_authorization_servers",
        Level::Must,
        "MCP 2025-11-25 authorization §Authorization Server Discovery; RFC 9728 §2",
        Some(!servers.is_empty()),
        if servers.is_empty() {
            format!("{doc_url}: no authorization_servers")
        } else {
            format!("authorization_servers: {}", servers.join(", "))
        },
    );
    let scopes = doc["scopes_supported"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    p.record(
        "prm_scopes_supported",
        Level::Should,
        "RFC 9728 §2 (RECOMMENDED); MCP 2025-11-25 authorization §Scope Selection Strategy",
        Some(scopes > 0),
        if scopes > 0 {
            format!("scopes_supported: {}", doc["scopes_supported"])
        } else {
            "no scopes_supported: clients cannot tell what to request".into()
        },
    );
    for issuer in &servers {
        let mut detail = Vec::new();
        let mut found = None;
        for meta_url in authsec::keys::metadata_urls(issuer) {
            match p.get_json(&meta_url).await {
                Ok(m) => {
                    found = Some((meta_url, m));
                    break;
                }
                Err(e) => detail.push(e),
            }
        }
        match found {
            Some((meta_url, m)) => {
                let published = m["issuer"].as_str().unwrap_or_default().to_owned();
                p.record(
                    "as_metadata_issuer",
                    Level::Must,
                    "RFC 8414 §3.3 (issuer MUST be identical to the authorization server identifier)",
                    Some(published == *issuer),
                    if published == *issuer {
                        format!("{meta_url}: issuer \"{published}\"")
                    } else {
                        format!("{meta_url}: issuer \"{published}\" is not \"{issuer}\"")
                    },
                );
            }
            None => p.record(
                "as_metadata_issuer",
                Level::Must,
                "MCP 2025-11-25 authorization §Authorization Server Metadata Discovery; RFC 8414 §3",
                Some(false),
                format!("no metadata for {issuer}: {}", detail.join("; ")),
            ),
        }
    }
    finish_with_tokens(p, token, forbidden_tool).await
}

async fn finish_with_tokens(
    mut p: Prober,
    token: Option<&str>,
    forbidden_tool: Option<&str>,
) -> Result<Vec<Check>, String> {
    let url = p.url.clone();
    // 3. An invalid token.
    let bad = p.post(&url, Some(JUNK_TOKEN), None, &initialize(2)).await?;
    p.record(
        "invalid_token_401",
        Level::Must,
        "MCP 2025-11-25 authorization §Token Handling (invalid tokens MUST get 401); RFC 6750 §3.1",
        Some(bad.status == 401),
        format!("an unsigned token got {}", bad.summary()),
    );
    let bad_error = bad
        .bearer()
        .and_then(|c| c.param("error").map(str::to_owned));
    p.record(
        "invalid_token_error",
        Level::Should,
        "RFC 6750 §3.1 (invalid_token)",
        Some(bad_error.as_deref() == Some("invalid_token")),
        match bad_error {
            Some(e) => format!("error=\"{e}\""),
            None => "no error code in the challenge".into(),
        },
    );

    // 4. A token in the query string (a junk one: a real token never goes in a URL).
    let sep = if url.contains('?') { '&' } else { '?' };
    let query_url = format!("{url}{sep}access_token={JUNK_TOKEN}");
    let anon = p.post(&url, None, None, &initialize(3)).await?;
    let q = p.post(&query_url, None, None, &initialize(3)).await?;
    let accepted = (200..300).contains(&q.status);
    p.record(
        "query_token_refused",
        Level::Must,
        "MCP 2025-11-25 authorization §Token Requirements; OAuth 2.1 §5.1 (no query-string method)",
        Some(!accepted),
        if accepted {
            format!("a request with access_token in the query got {}", q.status)
        } else if q.status == 400 {
            format!("refused: {}", q.summary())
        } else if q.status == anon.status && q.www_authenticate == anon.www_authenticate {
            format!(
                "ignored: answered like a request without a token ({})",
                q.status
            )
        } else {
            format!("refused: {}", q.summary())
        },
    );
    let parsed_query = q.status == 401
        && q.bearer()
            .and_then(|c| c.param("error").map(str::to_owned))
            .as_deref()
            == Some("invalid_token")
        && q.www_authenticate != anon.www_authenticate;
    p.record(
        "query_token_not_read",
        Level::Should,
        "RFC 6750 §5.3 (tokens in URLs leak into logs and history)",
        Some(!parsed_query),
        if parsed_query {
            format!(
                "the server read the query token as a credential: {}",
                q.summary()
            )
        } else {
            "the query token was not treated as a credential".into()
        },
    );

    // 5. With a real token: initialize, tools/list, a forbidden tool.
    let Some(token) = token else {
        for id in ["initialize", "tools_list"] {
            p.record(
                id,
                Level::Must,
                "MCP 2025-11-25 lifecycle",
                None,
                "skipped: no --token",
            );
        }
        return Ok(p.checks);
    };
    let init = p.post(&url, Some(token), None, &initialize(10)).await?;
    let init_rpc = init.rpc(10);
    let init_ok = init.status == 200
        && init_rpc
            .as_ref()
            .is_some_and(|v| v["result"]["protocolVersion"].is_string());
    p.record(
        "initialize",
        Level::Must,
        "MCP 2025-11-25 lifecycle §Initialization; authorization §Access Token Usage",
        Some(init_ok),
        if init_ok {
            format!(
                "initialize with the token: 200, protocolVersion {}",
                init_rpc
                    .as_ref()
                    .map(|v| v["result"]["protocolVersion"].to_string())
                    .unwrap_or_default()
            )
        } else {
            format!(
                "initialize with the token got {} {}",
                init.summary(),
                truncate(&init.body)
            )
        },
    );
    let session = init.session.clone();
    let _ = p
        .post(
            &url,
            Some(token),
            session.as_deref(),
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        )
        .await;
    let list = p
        .post(
            &url,
            Some(token),
            session.as_deref(),
            &json!({"jsonrpc": "2.0", "id": 11, "method": "tools/list"}),
        )
        .await?;
    let tools = list
        .rpc(11)
        .and_then(|v| v["result"]["tools"].as_array().cloned());
    p.record(
        "tools_list",
        Level::Must,
        "MCP 2025-11-25 server/tools §Listing Tools",
        Some(list.status == 200 && tools.is_some()),
        match &tools {
            Some(t) if list.status == 200 => format!(
                "tools/list: {} tool(s): {}",
                t.len(),
                t.iter()
                    .filter_map(|x| x["name"].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => format!("tools/list got {} {}", list.summary(), truncate(&list.body)),
        },
    );
    if let Some(tool) = forbidden_tool {
        let call = p
            .post(
                &url,
                Some(token),
                session.as_deref(),
                &json!({"jsonrpc": "2.0", "id": 12, "method": "tools/call", "params": {"name": tool, "arguments": {}}}),
            )
            .await?;
        p.record(
            "forbidden_tool_403",
            Level::Should,
            "MCP 2025-11-25 authorization §Scope Challenge Handling (403 for insufficient scope)",
            Some(call.status == 403),
            if call.status == 403 {
                format!("tools/call {tool}: {}", call.summary())
            } else {
                format!(
                    "tools/call {tool} got {} {}",
                    call.summary(),
                    truncate(&call.body)
                )
            },
        );
        let c = call.bearer();
        let shape_ok = call.status == 403
            && c.as_ref().is_some_and(|c| {
                c.param("error") == Some("insufficient_scope")
                    && c.param("scope").is_some()
                    && c.param("resource_metadata").is_some()
            });
        p.record(
            "forbidden_tool_challenge",
            Level::Should,
            "MCP 2025-11-25 authorization §Scope Challenge Handling; RFC 6750 §3.1",
            Some(shape_ok),
            match &c {
                _ if shape_ok => {
                    "Bearer error=\"insufficient_scope\" with scope and resource_metadata"
                        .to_owned()
                }
                Some(c) => format!(
                    "challenge lacks{}{}{}",
                    if c.param("error") == Some("insufficient_scope") {
                        ""
                    } else {
                        " error=\"insufficient_scope\""
                    },
                    if c.param("scope").is_some() {
                        ""
                    } else {
                        " scope"
                    },
                    if c.param("resource_metadata").is_some() {
                        ""
                    } else {
                        " resource_metadata"
                    },
                ),
                None => "no Bearer challenge: a client cannot step up".into(),
            },
        );
    }
    Ok(p.checks)
}

fn truncate(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 160 {
        format!("{}…", s.chars().take(159).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// Runs the probe and prints the report; exit 1 on any MUST failure.
pub fn run(args: &ProbeArgs, style: &Style) -> Result<ExitCode, String> {
    let token = match args.token.as_deref() {
        Some(t) => Some(crate::input::read_token(Some(t))?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the network runtime: {e}"))?;
    let checks = runtime.block_on(probe(
        &args.url,
        token.as_deref(),
        args.forbidden_tool.as_deref(),
    ))?;
    let must_failures = checks
        .iter()
        .filter(|c| c.level == Level::Must && c.ok == Some(false))
        .count();
    let should_failures = checks
        .iter()
        .filter(|c| c.level == Level::Should && c.ok == Some(false))
        .count();
    if args.json {
        let out = json!({
            "url": args.url,
            "checks": checks.iter().map(|c| json!({
                "id": c.id, "level": c.level.as_str(), "spec": c.spec, "ok": c.ok, "detail": c.detail,
            })).collect::<Vec<_>>(),
            "must_failures": must_failures,
            "should_failures": should_failures,
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        print!(
            "{}",
            render(&args.url, &checks, must_failures, should_failures, style)
        );
    }
    Ok(if must_failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn render(url: &str, checks: &[Check], must: usize, should: usize, style: &Style) -> String {
    let mut out = format!("probe {url}\n\n");
    let mut rows = Vec::new();
    let mut details = Vec::new();
    for c in checks {
        let (mark, shown) = match (c.ok, c.level) {
            (Some(true), _) => ("✓", style.good("✓")),
            (Some(false), Level::Must) => ("✗", style.bad("✗")),
            (Some(false), _) => ("!", style.warn("!")),
            (None, _) => ("-", "-".to_owned()),
        };
        rows.push(vec![
            (mark.to_owned(), shown),
            cell(c.level.as_str()),
            cell(c.id),
            cell(c.spec),
        ]);
        details.push(wrap(&c.detail, "           ", 110));
    }
    for (line, detail) in table(&rows).lines().zip(details) {
        out.push_str(line);
        out.push('\n');
        out.push_str(&detail);
    }
    out.push('\n');
    let verdict = format!("{must} MUST failure(s), {should} SHOULD deviation(s)");
    out.push_str(&if must > 0 {
        style.bad(&verdict)
    } else if should > 0 {
        style.warn(&verdict)
    } else {
        style.good(&verdict)
    });
    out.push('\n');
    out
}
