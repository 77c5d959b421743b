//! Every route of the console, in one table. The same table builds the router and lists the
//! routes, so a test can hold the OpenAPI document to exactly what is served.

use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{self, MethodRouter};
use axum::{Json, Router};
use serde_json::json;

use crate::model::{ManifestPrompt as P, ManifestResource as R};
use crate::state::AppState;
use crate::{admin_api as admin, oauth, sdk_api as sdk};

/// A router that remembers what it routes.
struct Routes {
    router: Router<AppState>,
    table: Vec<(Method, &'static str)>,
}

impl Routes {
    fn add(mut self, method: Method, path: &'static str, route: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, route);
        self.table.push((method, path));
        self
    }

    fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::GET, path, routing::get(h))
    }

    fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::POST, path, routing::post(h))
    }

    fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::PUT, path, routing::put(h))
    }

    fn patch<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::PATCH, path, routing::patch(h))
    }

    fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::DELETE, path, routing::delete(h))
    }
}

fn routes() -> Routes {
    Routes {
        router: Router::new(),
        table: Vec::new(),
    }
    // SDK (HTTP Basic: the resource server's credentials)
    .get("/authsec/resource-servers/{id}/sdk-policy", sdk::sdk_policy)
    .put(
        "/authsec/resource-servers/{id}/sdk-manifest",
        sdk::sdk_manifest,
    )
    // Token service
    .post("/oauth/token", oauth::token)
    .post("/oauth/introspect", oauth::introspect)
    .post("/oauth/revoke", oauth::revoke)
    .get("/.well-known/jwks.json", oauth::jwks)
    .get("/.well-known/oauth-authorization-server", oauth::metadata)
    // Admin API (Bearer: the admin token)
    .get("/api/openapi.json", admin::openapi)
    .get("/api/info", admin::info)
    .post("/api/admin-token", admin::rotate_admin_token)
    .get("/api/resource-servers", admin::list_resource_servers)
    .post("/api/resource-servers", admin::create_resource_server)
    .get("/api/resource-servers/{id}", admin::get_resource_server)
    .patch("/api/resource-servers/{id}", admin::update_resource_server)
    .delete("/api/resource-servers/{id}", admin::delete_resource_server)
    .post(
        "/api/resource-servers/{id}/secret",
        admin::rotate_resource_server_secret,
    )
    .get(
        "/api/resource-servers/{id}/sdk-policy",
        admin::preview_sdk_policy,
    )
    .get("/api/resource-servers/{id}/scopes", admin::list_scopes)
    .post("/api/resource-servers/{id}/scopes", admin::create_scope)
    .patch(
        "/api/resource-servers/{id}/scopes/{scope}",
        admin::update_scope,
    )
    .delete(
        "/api/resource-servers/{id}/scopes/{scope}",
        admin::delete_scope,
    )
    .get("/api/resource-servers/{id}/tools", admin::list_tools)
    .get("/api/resource-servers/{id}/tools/{tool}", admin::get_tool)
    .delete(
        "/api/resource-servers/{id}/tools/{tool}",
        admin::delete_tool,
    )
    .put(
        "/api/resource-servers/{id}/tools/{tool}/mapping",
        admin::set_mapping,
    )
    .delete(
        "/api/resource-servers/{id}/tools/{tool}/mapping",
        admin::clear_mapping,
    )
    .get(
        "/api/resource-servers/{id}/prompts",
        admin::list_entries::<P>,
    )
    .get(
        "/api/resource-servers/{id}/prompts/{prompt}",
        admin::get_entry::<P>,
    )
    .delete(
        "/api/resource-servers/{id}/prompts/{prompt}",
        admin::delete_entry::<P>,
    )
    .put(
        "/api/resource-servers/{id}/prompts/{prompt}/mapping",
        admin::set_entry_mapping::<P>,
    )
    .delete(
        "/api/resource-servers/{id}/prompts/{prompt}/mapping",
        admin::clear_entry_mapping::<P>,
    )
    .get(
        "/api/resource-servers/{id}/resources",
        admin::list_entries::<R>,
    )
    .get(
        "/api/resource-servers/{id}/resources/{uri}",
        admin::get_entry::<R>,
    )
    .delete(
        "/api/resource-servers/{id}/resources/{uri}",
        admin::delete_entry::<R>,
    )
    .put(
        "/api/resource-servers/{id}/resources/{uri}/mapping",
        admin::set_entry_mapping::<R>,
    )
    .delete(
        "/api/resource-servers/{id}/resources/{uri}/mapping",
        admin::clear_entry_mapping::<R>,
    )
    .get("/api/resource-servers/{id}/clients", admin::list_clients)
    .post("/api/resource-servers/{id}/clients", admin::create_client)
    .get(
        "/api/resource-servers/{id}/clients/{client_id}",
        admin::get_client,
    )
    .patch(
        "/api/resource-servers/{id}/clients/{client_id}",
        admin::update_client,
    )
    .delete(
        "/api/resource-servers/{id}/clients/{client_id}",
        admin::delete_client,
    )
    .post(
        "/api/resource-servers/{id}/clients/{client_id}/secret",
        admin::rotate_client_secret,
    )
    .get("/api/signing-keys", admin::list_signing_keys)
    .post("/api/signing-keys", admin::create_signing_key)
    .delete("/api/signing-keys/{kid}", admin::retire_signing_key)
    .get("/api/audit", admin::audit_log)
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": "not_found", "error_description": "no such endpoint" })),
    )
}

/// The console's HTTP router over `state`: the API routes of [`route_table`] and the web
/// console.
pub fn router(state: AppState) -> Router {
    routes()
        .router
        .merge(crate::web::router())
        .fallback(not_found)
        .with_state(state)
}

/// Every `(method, path)` the router serves, paths in axum/OpenAPI template syntax
/// (`/api/resource-servers/{id}`).
pub fn route_table() -> Vec<(Method, &'static str)> {
    routes().table
}
