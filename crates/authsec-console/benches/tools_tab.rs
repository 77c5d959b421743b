//! Server-side render time of the web console's Tools tab with 1,000 tools (goal: < 20 ms).
//!
//! * `render_1000_tools`: the page from loaded data (rules already computed) to HTML.
//! * `request_1000_tools`: a whole `GET /servers/{id}/tools` through the router on SQLite —
//!   session check, loading, the rules, rendering — beside its baseline measured in the same
//!   run, the admin API's `GET /api/resource-servers/{id}/tools` (the same tools as JSON).
//!
//! `cargo bench -p authsec-console --bench tools_tab`

use std::time::Duration;

use authsec_console::auth::Actor;
use authsec_console::model::ManifestTool;
use authsec_console::model::{
    Mapping, MappingSource, PolicyState, Readiness, ResourceServer, Scope, ScopeMatch, Tool,
    ToolCounts, ToolState,
};
use authsec_console::store::{NewResourceServer, NewScope};
use authsec_console::web::{render_tools_page, Page, Tab, ToolsQuery};
use authsec_console::{router, Console, ConsoleConfig};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use tower::ServiceExt as _;

const TOOLS: usize = 1000;
const SCOPES: usize = 12;

fn scope_name(i: usize) -> String {
    format!("rs-525da3b4:tools:s{i}")
}

/// Tool `i`: a third unmapped, a third mapped (any or all of two scopes), a third public.
fn tool(i: usize) -> Tool {
    let mapping = match i % 3 {
        0 => None,
        1 => Some(Mapping {
            source: MappingSource::Admin,
            state: ToolState::Mapped,
            scopes: vec![scope_name(i % SCOPES), scope_name((i + 1) % SCOPES)],
            scope_match: if i & 1 == 0 {
                ScopeMatch::All
            } else {
                ScopeMatch::Any
            },
            updated_at: Some(1_790_000_000),
        }),
        _ => Some(Mapping {
            source: MappingSource::Admin,
            state: ToolState::Public,
            scopes: Vec::new(),
            scope_match: ScopeMatch::Any,
            updated_at: Some(1_790_000_000),
        }),
    };
    Tool {
        name: format!("tool_{i:04}"),
        title: Some(format!("Tool number {i}")),
        description: Some(format!(
            "Does thing {i} with <input> & \"quotes\": a description of typical length for an MCP tool."
        )),
        input_schema: Some(json!({"type": "object", "properties": {"id": {"type": "integer"}}})),
        annotations: Some(json!({"readOnlyHint": i & 1 == 0})),
        suggested_scopes: vec![scope_name(i % SCOPES)],
        first_seen: Some(1_790_000_000),
        last_seen: Some(1_790_000_000 + i as i64),
        in_latest_manifest: true,
        state: mapping.as_ref().map_or(ToolState::Unmapped, |m| m.state),
        mapping,
    }
}

fn render(c: &mut Criterion) {
    let tools: Vec<Tool> = (0..TOOLS).map(tool).collect();
    let scopes: Vec<Scope> = (0..SCOPES)
        .map(|i| Scope {
            name: scope_name(i),
            description: format!("scope {i}"),
            created_at: 1,
            updated_at: 1,
        })
        .collect();
    let rs = ResourceServer {
        id: "rs-525da3b4".into(),
        name: "notes".into(),
        resource_uri: "https://mcp.example.com/mcp".into(),
        client_id: "rs-525da3b4".into(),
        enabled: true,
        auto_apply_suggestions: false,
        generation: 42,
        readiness: Readiness {
            state: PolicyState::Ready,
            policy_complete: true,
            reason: None,
        },
        readiness_description: None,
        scopes: scopes.iter().map(|s| s.name.clone()).collect(),
        tool_counts: ToolCounts {
            mapped: 333,
            public: 333,
            unmapped: 334,
        },
        prompt_counts: ToolCounts::default(),
        resource_counts: ToolCounts::default(),
        last_manifest_at: Some(1_790_001_000),
        created_at: 1,
        updated_at: 2,
    };
    let q = ToolsQuery::default();
    let mut g = c.benchmark_group("tools_tab");
    g.bench_function("render_1000_tools", |b| {
        b.iter(|| {
            let mut page = Page::new("Tools", Some("csrf-token-value"));
            page.server = Some((&rs, Tab::Tools));
            render_tools_page(&mut page, &rs, &tools, &scopes, &q, 1_790_002_000);
            page.to_html().into_string().len()
        })
    });
    g.finish();
}

fn request(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (app, rs_id, cookie) = rt.block_on(async {
        let mut config = ConsoleConfig::new(
            dir.path().join("bench.db").to_string_lossy().into_owned(),
            "127.0.0.1:0".parse().unwrap(),
        );
        config.admin_token = Some("bench-admin-token-0123456789".into());
        let console = Console::bind(config).await.unwrap();
        let store = console.state().store().clone();
        let (rs, _) = store
            .create_resource_server(
                &Actor::System,
                NewResourceServer {
                    name: "bench".into(),
                    resource_uri: "https://mcp.example.com/mcp".into(),
                    scopes: (0..SCOPES)
                        .map(|i| NewScope {
                            name: scope_name(i),
                            description: String::new(),
                        })
                        .collect(),
                    auto_apply_suggestions: false,
                },
            )
            .await
            .unwrap();
        let manifest: Vec<ManifestTool> = (0..TOOLS)
            .map(|i| {
                let t = tool(i);
                ManifestTool {
                    name: t.name,
                    title: t.title,
                    description: t.description,
                    input_schema: t.input_schema,
                    annotations: t.annotations,
                    suggested_scopes: t.suggested_scopes,
                }
            })
            .collect();
        store
            .apply_manifest(&Actor::ResourceServer(rs.id.clone()), &rs.id, manifest)
            .await
            .unwrap();
        for i in (0..TOOLS).filter(|i| i % 3 != 0) {
            let t = tool(i);
            let m = t.mapping.unwrap();
            store
                .set_mapping(
                    &Actor::System,
                    &rs.id,
                    &t.name,
                    m.state,
                    m.scopes,
                    m.scope_match,
                )
                .await
                .unwrap();
        }
        let link = console.sign_in_link().await.unwrap();
        let path = link.strip_prefix(console.public_url()).unwrap().to_owned();
        let app = router(console.state().clone());
        let resp = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let cookie = resp.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        (app, rs.id, cookie)
    });
    let page_path = format!("/servers/{rs_id}/tools");
    let api_path = format!("/api/resource-servers/{rs_id}/tools");
    let get = |path: &str, auth: (header::HeaderName, String)| {
        let app = app.clone();
        let req = Request::get(path)
            .header(auth.0, auth.1)
            .body(Body::empty())
            .unwrap();
        async move {
            let resp = app.oneshot(req).await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap()
                .len()
        }
    };
    let html_len = rt.block_on(get(&page_path, (header::COOKIE, cookie.clone())));
    assert!(html_len > 100_000, "{html_len}");
    let mut g = c.benchmark_group("tools_tab");
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("request_1000_tools", |b| {
        b.iter(|| rt.block_on(get(&page_path, (header::COOKIE, cookie.clone()))))
    });
    g.bench_function("baseline_admin_api_json_1000_tools", |b| {
        b.iter(|| {
            rt.block_on(get(
                &api_path,
                (
                    header::AUTHORIZATION,
                    "Bearer bench-admin-token-0123456789".to_owned(),
                ),
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, render, request);
criterion_main!(benches);
