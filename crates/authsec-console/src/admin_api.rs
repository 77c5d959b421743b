//! The admin REST API under `/api`: JSON in and out, authenticated by
//! `Authorization: Bearer <admin token>`. Everything a web console needs: resource servers
//! (with readiness and credentials), scopes, tools with their state and mappings, machine
//! clients, signing keys, the audit log, and a preview of the SDK policy. The OpenAPI document
//! is at `/api/openapi.json` (no authentication).
//!
//! Errors are JSON `{"error", "error_description", …details}`: 400 `invalid_request`, 401
//! `unauthorized`, 404 `not_found`, 409 `conflict`, 500 `server_error`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{self, Actor};
use crate::error::Error;
use crate::model::{ClientKeys, ManifestEntry, ScopeMatch, ToolState};
use crate::state::{secs, AppState, KeyView};
use crate::store::{ClientPatch, NewResourceServer, NewScope, ResourceServerPatch};

/// An admin API failure.
#[derive(Debug)]
pub(crate) enum ApiError {
    Unauthorized(&'static str),
    BadRequest(String),
    Console(Error),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Console(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, description, details) = match self {
            ApiError::Unauthorized(d) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                d.to_owned(),
                json!({}),
            ),
            ApiError::BadRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", d, json!({})),
            ApiError::Console(e) => {
                let text = e.to_string();
                match e {
                    Error::NotFound { kind, id } => (
                        StatusCode::NOT_FOUND,
                        "not_found",
                        text,
                        json!({ "kind": kind, "id": id }),
                    ),
                    Error::InvalidInput { field, .. } => (
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        text,
                        json!({ "field": field }),
                    ),
                    Error::UnknownScopes { scopes, .. } => (
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        text,
                        json!({ "unknown_scopes": scopes }),
                    ),
                    Error::ScopeInUse {
                        tools,
                        prompts,
                        resources,
                        clients,
                        ..
                    } => (
                        StatusCode::CONFLICT,
                        "conflict",
                        text,
                        json!({
                            "tools": tools, "prompts": prompts, "resources": resources,
                            "clients": clients
                        }),
                    ),
                    Error::ResourceUriTaken { existing, .. } => (
                        StatusCode::CONFLICT,
                        "conflict",
                        text,
                        json!({ "resource_server_id": existing }),
                    ),
                    Error::ScopeExists { .. }
                    | Error::LastSigningKey { .. }
                    | Error::AdminTokenFromEnv => {
                        (StatusCode::CONFLICT, "conflict", text, json!({}))
                    }
                    e => {
                        tracing::error!(target: "authsec::console", error = %e, "admin API failure");
                        (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "server_error",
                            "internal error; see the console log".to_owned(),
                            json!({}),
                        )
                    }
                }
            }
        };
        let mut body = json!({ "error": error, "error_description": description });
        if let (Some(b), Some(d)) = (body.as_object_mut(), details.as_object()) {
            b.extend(d.clone());
        }
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"authsec-console\""),
            );
        }
        resp
    }
}

/// Proof that the request carries the admin token. Every admin handler takes one; a test
/// checks that every `/api` route but the OpenAPI document refuses a request without it.
pub(crate) struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(token) = auth::bearer_token(&parts.headers) else {
            return Err(ApiError::Unauthorized(
                "the admin API needs Authorization: Bearer <admin token>",
            ));
        };
        if is_admin_token(state, token).await? {
            Ok(Admin)
        } else {
            Err(ApiError::Unauthorized("wrong admin token"))
        }
    }
}

/// Is `token` the admin token (from the environment, or the stored one)? The one check behind
/// the admin API and the web console's sign-in.
pub(crate) async fn is_admin_token(state: &AppState, token: &str) -> Result<bool, Error> {
    Ok(match &state.settings().admin_token {
        Some(expected) => auth::secrets_equal(token, expected),
        None => match state.store().admin_token_hash().await? {
            Some(hash) => auth::verify_secret(token, &hash),
            None => false,
        },
    })
}

/// A JSON body whose rejection is an [`ApiError`] (JSON), not axum's plain-text one.
pub(crate) struct JsonBody<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}

type ApiResult = Result<Response, ApiError>;

fn ok(value: impl serde::Serialize) -> ApiResult {
    Ok(Json(value).into_response())
}

fn created(value: impl serde::Serialize) -> ApiResult {
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Secrets are returned once, and must not be cached anywhere on the way.
fn with_secret(status: StatusCode, value: Value) -> ApiResult {
    Ok((status, [(header::CACHE_CONTROL, "no-store")], Json(value)).into_response())
}

// ---- console -------------------------------------------------------------------------------

/// The console's public endpoints, by name (`GET /api/info` and the web console's Console page).
pub(crate) fn endpoints(issuer: &str) -> [(&'static str, String); 6] {
    [
        (
            "metadata",
            format!("{issuer}/.well-known/oauth-authorization-server"),
        ),
        ("jwks", format!("{issuer}/.well-known/jwks.json")),
        ("token", format!("{issuer}/oauth/token")),
        ("introspection", format!("{issuer}/oauth/introspect")),
        ("revocation", format!("{issuer}/oauth/revoke")),
        ("openapi", format!("{issuer}/api/openapi.json")),
    ]
}

/// `GET /api/info`.
pub(crate) async fn info(_: Admin, State(state): State<AppState>) -> ApiResult {
    let issuer = state.issuer();
    let s = state.settings();
    let endpoints: serde_json::Map<String, Value> = endpoints(issuer)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v)))
        .collect();
    ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "issuer": issuer,
        "database": state.store().backend().as_str(),
        "admin_token_source": if s.admin_token.is_some() { "env" } else { "stored" },
        "token_lifetime_secs": secs(s.token_lifetime),
        "long_poll_timeout_secs": secs(s.long_poll_timeout),
        "key_activation_delay_secs": secs(s.key_activation_delay),
        "endpoints": endpoints,
    }))
}

/// `POST /api/admin-token`: replaces the stored admin token; the new one is returned once and
/// the old one stops working.
pub(crate) async fn rotate_admin_token(_: Admin, State(state): State<AppState>) -> ApiResult {
    if state.settings().admin_token.is_some() {
        return Err(Error::AdminTokenFromEnv.into());
    }
    let token = auth::generate_secret("asa_")?;
    state
        .store()
        .replace_admin_token(&Actor::Admin, &auth::hash_secret(&token)?)
        .await?;
    with_secret(StatusCode::OK, json!({ "admin_token": token }))
}

// ---- resource servers ----------------------------------------------------------------------

/// `GET /api/resource-servers`.
pub(crate) async fn list_resource_servers(_: Admin, State(state): State<AppState>) -> ApiResult {
    ok(json!({ "resource_servers": state.store().list_resource_servers().await? }))
}

/// `POST /api/resource-servers`: the response holds the client secret, once.
pub(crate) async fn create_resource_server(
    _: Admin,
    State(state): State<AppState>,
    JsonBody(new): JsonBody<NewResourceServer>,
) -> ApiResult {
    let (rs, secret) = state
        .store()
        .create_resource_server(&Actor::Admin, new)
        .await?;
    let credentials = json!({ "client_id": rs.client_id, "client_secret": secret });
    with_secret(
        StatusCode::CREATED,
        json!({ "resource_server": rs, "credentials": credentials }),
    )
}

/// `GET /api/resource-servers/{id}`.
pub(crate) async fn get_resource_server(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult {
    ok(state.store().resource_server(&id).await?)
}

/// `PATCH /api/resource-servers/{id}`.
pub(crate) async fn update_resource_server(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<ResourceServerPatch>,
) -> ApiResult {
    ok(state
        .store()
        .update_resource_server(&Actor::Admin, &id, patch)
        .await?)
}

/// `DELETE /api/resource-servers/{id}`.
pub(crate) async fn delete_resource_server(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult {
    state
        .store()
        .delete_resource_server(&Actor::Admin, &id)
        .await?;
    no_content()
}

/// `POST /api/resource-servers/{id}/secret`: a new client secret, returned once.
pub(crate) async fn rotate_resource_server_secret(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult {
    let secret = state
        .store()
        .rotate_resource_server_secret(&Actor::Admin, &id)
        .await?;
    with_secret(
        StatusCode::OK,
        json!({ "client_id": id, "client_secret": secret }),
    )
}

/// `GET /api/resource-servers/{id}/sdk-policy`: exactly what the SDK receives.
pub(crate) async fn preview_sdk_policy(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult {
    ok(state.store().sdk_policy(&id).await?)
}

// ---- scopes --------------------------------------------------------------------------------

/// `GET /api/resource-servers/{id}/scopes`.
pub(crate) async fn list_scopes(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult {
    ok(json!({ "scopes": state.store().list_scopes(&id).await? }))
}

/// `POST /api/resource-servers/{id}/scopes`.
pub(crate) async fn create_scope(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(new): JsonBody<NewScope>,
) -> ApiResult {
    created(state.store().create_scope(&Actor::Admin, &id, new).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScopePatch {
    description: String,
}

/// `PATCH /api/resource-servers/{id}/scopes/{scope}`.
pub(crate) async fn update_scope(
    _: Admin,
    State(state): State<AppState>,
    Path((id, scope)): Path<(String, String)>,
    JsonBody(patch): JsonBody<ScopePatch>,
) -> ApiResult {
    ok(state
        .store()
        .update_scope(&Actor::Admin, &id, &scope, patch.description)
        .await?)
}

/// `DELETE /api/resource-servers/{id}/scopes/{scope}`.
pub(crate) async fn delete_scope(
    _: Admin,
    State(state): State<AppState>,
    Path((id, scope)): Path<(String, String)>,
) -> ApiResult {
    state
        .store()
        .delete_scope(&Actor::Admin, &id, &scope)
        .await?;
    no_content()
}

// ---- tools and mappings --------------------------------------------------------------------

/// `GET /api/resource-servers/{id}/tools`.
pub(crate) async fn list_tools(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult {
    ok(json!({ "tools": state.store().list_tools(&id).await? }))
}

/// `GET /api/resource-servers/{id}/tools/{tool}`.
pub(crate) async fn get_tool(
    _: Admin,
    State(state): State<AppState>,
    Path((id, tool)): Path<(String, String)>,
) -> ApiResult {
    ok(state.store().tool(&id, &tool).await?)
}

/// `DELETE /api/resource-servers/{id}/tools/{tool}`.
pub(crate) async fn delete_tool(
    _: Admin,
    State(state): State<AppState>,
    Path((id, tool)): Path<(String, String)>,
) -> ApiResult {
    state.store().delete_tool(&Actor::Admin, &id, &tool).await?;
    no_content()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MappingBody {
    state: ToolState,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    scope_match: ScopeMatch,
}

/// `PUT /api/resource-servers/{id}/tools/{tool}/mapping`: an admin decision.
pub(crate) async fn set_mapping(
    _: Admin,
    State(state): State<AppState>,
    Path((id, tool)): Path<(String, String)>,
    JsonBody(body): JsonBody<MappingBody>,
) -> ApiResult {
    ok(state
        .store()
        .set_mapping(
            &Actor::Admin,
            &id,
            &tool,
            body.state,
            body.scopes,
            body.scope_match,
        )
        .await?)
}

/// `DELETE /api/resource-servers/{id}/tools/{tool}/mapping`: removes the admin decision.
pub(crate) async fn clear_mapping(
    _: Admin,
    State(state): State<AppState>,
    Path((id, tool)): Path<(String, String)>,
) -> ApiResult {
    ok(state
        .store()
        .clear_mapping(&Actor::Admin, &id, &tool)
        .await?)
}

// ---- prompts and resources (the tool endpoints' shapes) -------------------------------------
//
// `M` is `ManifestPrompt` (`/prompts/{prompt}`, by name) or `ManifestResource`
// (`/resources/{uri}`, the exact URI or URI template percent-encoded as one path segment).

/// `GET /api/resource-servers/{id}/prompts` and `…/resources`.
pub(crate) async fn list_entries<M: ManifestEntry>(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult {
    let entries = state.store().list_entries::<M>(&id).await?;
    ok(json!({ M::KIND.plural(): entries }))
}

/// `GET /api/resource-servers/{id}/prompts/{prompt}` and `…/resources/{uri}`.
pub(crate) async fn get_entry<M: ManifestEntry>(
    _: Admin,
    State(state): State<AppState>,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    ok(state.store().entry::<M>(&id, &key).await?)
}

/// `DELETE /api/resource-servers/{id}/prompts/{prompt}` and `…/resources/{uri}`.
pub(crate) async fn delete_entry<M: ManifestEntry>(
    _: Admin,
    State(state): State<AppState>,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    state
        .store()
        .delete_entry::<M>(&Actor::Admin, &id, &key)
        .await?;
    no_content()
}

/// `PUT /api/resource-servers/{id}/prompts/{prompt}/mapping` and `…/resources/{uri}/mapping`.
pub(crate) async fn set_entry_mapping<M: ManifestEntry>(
    _: Admin,
    State(state): State<AppState>,
    Path((id, key)): Path<(String, String)>,
    JsonBody(body): JsonBody<MappingBody>,
) -> ApiResult {
    ok(state
        .store()
        .set_entry_mapping::<M>(
            &Actor::Admin,
            &id,
            &key,
            body.state,
            body.scopes,
            body.scope_match,
        )
        .await?)
}

/// `DELETE /api/resource-servers/{id}/prompts/{prompt}/mapping` and `…/resources/{uri}/mapping`.
pub(crate) async fn clear_entry_mapping<M: ManifestEntry>(
    _: Admin,
    State(state): State<AppState>,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult {
    ok(state
        .store()
        .clear_entry_mapping::<M>(&Actor::Admin, &id, &key)
        .await?)
}

// ---- clients -------------------------------------------------------------------------------

/// `GET /api/resource-servers/{id}/clients`.
pub(crate) async fn list_clients(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult {
    ok(json!({ "clients": state.store().list_clients(&id).await? }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewClient {
    name: String,
    allowed_scopes: Vec<String>,
    /// Public keys inline: the client authenticates with `private_key_jwt`.
    #[serde(default)]
    jwks: Option<Value>,
    /// Public keys at a URL: the client authenticates with `private_key_jwt`.
    #[serde(default)]
    jwks_uri: Option<String>,
}

/// `POST /api/resource-servers/{id}/clients`: with `jwks` or `jwks_uri` a `private_key_jwt`
/// client (no secret); otherwise the response holds the client secret, once.
pub(crate) async fn create_client(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(new): JsonBody<NewClient>,
) -> ApiResult {
    let keys = match (new.jwks, new.jwks_uri) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid("jwks", "give jwks or jwks_uri, not both").into())
        }
        (Some(j), None) => Some(ClientKeys::Jwks(j)),
        (None, Some(u)) => Some(ClientKeys::JwksUri(u)),
        (None, None) => None,
    };
    if let Some(keys) = keys {
        let client = state
            .store()
            .create_key_client(&Actor::Admin, &id, new.name, new.allowed_scopes, keys)
            .await?;
        return created(json!({ "client": client }));
    }
    let (client, secret) = state
        .store()
        .create_client(&Actor::Admin, &id, new.name, new.allowed_scopes)
        .await?;
    with_secret(
        StatusCode::CREATED,
        json!({ "client": client, "client_secret": secret }),
    )
}

/// `GET /api/resource-servers/{id}/clients/{client_id}`.
pub(crate) async fn get_client(
    _: Admin,
    State(state): State<AppState>,
    Path((id, client_id)): Path<(String, String)>,
) -> ApiResult {
    ok(state.store().client(&id, &client_id).await?)
}

/// `PATCH /api/resource-servers/{id}/clients/{client_id}`.
pub(crate) async fn update_client(
    _: Admin,
    State(state): State<AppState>,
    Path((id, client_id)): Path<(String, String)>,
    JsonBody(patch): JsonBody<ClientPatch>,
) -> ApiResult {
    ok(state
        .store()
        .update_client(&Actor::Admin, &id, &client_id, patch)
        .await?)
}

/// `DELETE /api/resource-servers/{id}/clients/{client_id}`.
pub(crate) async fn delete_client(
    _: Admin,
    State(state): State<AppState>,
    Path((id, client_id)): Path<(String, String)>,
) -> ApiResult {
    state
        .store()
        .delete_client(&Actor::Admin, &id, &client_id)
        .await?;
    no_content()
}

/// `POST /api/resource-servers/{id}/clients/{client_id}/secret`: a new secret, returned once.
pub(crate) async fn rotate_client_secret(
    _: Admin,
    State(state): State<AppState>,
    Path((id, client_id)): Path<(String, String)>,
) -> ApiResult {
    let secret = state
        .store()
        .rotate_client_secret(&Actor::Admin, &id, &client_id)
        .await?;
    with_secret(
        StatusCode::OK,
        json!({ "client_id": client_id, "client_secret": secret }),
    )
}

// ---- signing keys --------------------------------------------------------------------------

/// `GET /api/signing-keys`: every key, retired ones included, newest first, each with its
/// `state` (`published`, `signing`, `verifying`, `retired`).
pub(crate) async fn list_signing_keys(_: Admin, State(state): State<AppState>) -> ApiResult {
    ok(json!({ "signing_keys": state.signing_keys().await? }))
}

/// `POST /api/signing-keys`: rotation. The new key is in the JWKS at once and signs from its
/// `signs_from` (the activation delay later); the previous ones stay in the JWKS (their
/// tokens keep validating) until retired.
pub(crate) async fn create_signing_key(_: Admin, State(state): State<AppState>) -> ApiResult {
    let kid = state.rotate_signing_key(&Actor::Admin).await?;
    created(signing_key_view(&state, &kid).await?)
}

/// `DELETE /api/signing-keys/{kid}`: retires a key (out of the JWKS; its tokens stop
/// introspecting as active). Retiring the signing key makes the oldest published one sign at
/// once.
pub(crate) async fn retire_signing_key(
    _: Admin,
    State(state): State<AppState>,
    Path(kid): Path<String>,
) -> ApiResult {
    state
        .store()
        .retire_signing_key(&Actor::Admin, &kid)
        .await?;
    ok(signing_key_view(&state, &kid).await?)
}

async fn signing_key_view(state: &AppState, kid: &str) -> Result<KeyView, Error> {
    state
        .signing_keys()
        .await?
        .into_iter()
        .find(|k| k.key.kid == kid)
        .ok_or_else(|| Error::not_found("signing_key", kid))
}

// ---- audit log -----------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    resource_server_id: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/audit?resource_server_id=&before=&limit=`: newest first; pass `next_before` back
/// as `before` for the next page.
pub(crate) async fn audit_log(
    _: Admin,
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let entries = state
        .store()
        .audit_log(q.resource_server_id.as_deref(), q.before, limit)
        .await?;
    let next_before = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    ok(json!({ "entries": entries, "next_before": next_before }))
}

/// `GET /api/openapi.json` (no authentication).
pub(crate) async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::OPENAPI_JSON,
    )
        .into_response()
}
