//! The token service for machine clients: `client_credentials` tokens for one resource server
//! each (RFC 6749 §4.4, RFC 8707 `resource`, RFC 9068 JWT access tokens), the JWKS, RFC 8414
//! metadata, RFC 7662 introspection and RFC 7009 revocation. Clients authenticate with a
//! secret (`client_secret_basic`, `client_secret_post`) or a private key (`private_key_jwt`,
//! RFC 7523; see [`assertion`]). User sign-in stays with a full authorization server.
//!
//! Errors follow RFC 6749 §5.2: JSON `{"error", "error_description"}`, `Cache-Control: no-store`,
//! and 401 with `WWW-Authenticate: Basic` when client authentication fails.

pub(crate) mod assertion;
pub mod jwt;

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::auth::{self, Actor};
use crate::error::Error;
use crate::model::{self, Client, ResourceServerRow};
use crate::state::{secs, AppState};

/// Client authentication methods with a secret, accepted at every endpoint.
const SECRET_METHODS: [&str; 2] = ["client_secret_basic", "client_secret_post"];

/// Client authentication methods at the endpoints machine clients call (token, revocation).
const CLIENT_METHODS: [&str; 3] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
];

/// An RFC 6749 §5.2 error response.
#[derive(Debug)]
pub(crate) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    basic_challenge: bool,
}

impl OAuthError {
    /// `error: error_description`, for people (the access simulator).
    pub(crate) fn explain(&self) -> String {
        format!("{}: {}", self.error, self.description)
    }

    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// `invalid_client` (401), with a Basic challenge when the client tried Basic.
    pub(crate) fn invalid_client(description: impl Into<String>, tried_basic: bool) -> Self {
        OAuthError {
            basic_challenge: tried_basic,
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
        }
    }

    fn server_error(e: &Error) -> Self {
        tracing::error!(target: "authsec::console", error = %e, "token service failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error; see the console log",
        )
    }
}

impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        OAuthError::server_error(&e)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            no_store(),
            Json(json!({ "error": self.error, "error_description": self.description })),
        )
            .into_response();
        if self.basic_challenge {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(auth::BASIC_CHALLENGE),
            );
        }
        resp
    }
}

fn no_store() -> [(header::HeaderName, &'static str); 2] {
    [
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
    ]
}

/// Form parameters, refusing repeats of those that must appear once (RFC 6749 §3.1).
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthError> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
        {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        Ok(Form(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn one(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        match self.all(name).as_slice() {
            [] => Ok(None),
            [v] => Ok(Some(v)),
            _ => Err(OAuthError::invalid_request(format!(
                "parameter {name} is repeated"
            ))),
        }
    }
}

/// Who the caller says it is, and its proof.
struct Credentials {
    id: String,
    proof: Proof,
    basic: bool,
}

enum Proof {
    /// `client_secret_basic` or `client_secret_post`.
    Secret(String),
    /// `private_key_jwt`: an RFC 7523 client assertion.
    Assertion(String),
}

/// Client credentials from Basic, from the body, or a client assertion — exactly one method
/// (RFC 6749 §2.3).
fn credentials(headers: &HeaderMap, form: &Form) -> Result<Credentials, OAuthError> {
    let tried_basic = auth::has_auth_scheme(headers, "basic");
    let body_id = form.one("client_id")?;
    let body_secret = form.one("client_secret")?;
    let assertion_type = form.one("client_assertion_type")?;
    let assertion = form.one("client_assertion")?;
    if assertion_type.is_some() || assertion.is_some() {
        if tried_basic || body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method: a client assertion, Basic or client_secret, not several",
            ));
        }
        if assertion_type != Some(assertion::JWT_BEARER) {
            return Err(OAuthError::invalid_request(format!(
                "client_assertion_type must be {}",
                assertion::JWT_BEARER
            )));
        }
        let assertion =
            assertion.ok_or_else(|| OAuthError::invalid_request("client_assertion is missing"))?;
        let id = match body_id {
            Some(id) => id.to_owned(),
            None => assertion::named_client(assertion).ok_or_else(|| {
                OAuthError::invalid_client("the client assertion names no client (sub)", false)
            })?,
        };
        return Ok(Credentials {
            id,
            proof: Proof::Assertion(assertion.to_owned()),
            basic: false,
        });
    }
    if tried_basic {
        if body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method: Basic or client_secret in the body, not both",
            ));
        }
        let (id, secret) = auth::basic_credentials(headers)
            .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials", true))?;
        if body_id.is_some_and(|b| b != id) {
            return Err(OAuthError::invalid_request(
                "client_id in the body differs from the Basic credentials",
            ));
        }
        return Ok(Credentials {
            id,
            proof: Proof::Secret(secret),
            basic: true,
        });
    }
    match (body_id, body_secret) {
        (Some(id), Some(secret)) => Ok(Credentials {
            id: id.to_owned(),
            proof: Proof::Secret(secret.to_owned()),
            basic: false,
        }),
        (Some(_), None) => Err(OAuthError::invalid_client(
            "client_secret is missing: only confidential clients are supported",
            false,
        )),
        _ => Err(OAuthError::invalid_client(
            "client authentication is required (client_secret_basic, client_secret_post or private_key_jwt)",
            false,
        )),
    }
}

async fn authenticate_client(state: &AppState, creds: &Credentials) -> Result<Client, OAuthError> {
    match &creds.proof {
        Proof::Secret(secret) => state
            .store()
            .authenticate_client(&creds.id, secret)
            .await?
            .ok_or_else(|| {
                OAuthError::invalid_client("unknown client or wrong secret", creds.basic)
            }),
        Proof::Assertion(a) => assertion::authenticate(state, &creds.id, a).await,
    }
}

async fn authenticate_resource_server(
    state: &AppState,
    creds: &Credentials,
) -> Result<ResourceServerRow, OAuthError> {
    let Proof::Secret(secret) = &creds.proof else {
        return Err(OAuthError::invalid_client(
            "a resource server authenticates with its secret (client_secret_basic or client_secret_post)",
            false,
        ));
    };
    state
        .store()
        .authenticate_resource_server(&creds.id, secret)
        .await?
        .ok_or_else(|| {
            OAuthError::invalid_client(
                "unknown resource server or wrong secret (use the resource server's credentials)",
                creds.basic,
            )
        })
}

/// `POST /oauth/token`: the `client_credentials` grant.
pub(crate) async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let form = Form::parse(&headers, &body)?;
    let creds = credentials(&headers, &form)?;
    let grant_type = form
        .one("grant_type")?
        .ok_or_else(|| OAuthError::invalid_request("grant_type is missing"))?;
    let client = authenticate_client(&state, &creds).await?;
    if !client.enabled {
        return Err(OAuthError::invalid_client(
            format!("client {} is disabled", client.client_id),
            creds.basic,
        ));
    }
    if grant_type != "client_credentials" {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("grant_type {grant_type:?} is not supported; use client_credentials"),
        ));
    }
    let server = state
        .store()
        .resource_server_row(&client.resource_server_id)
        .await?;
    let resource = match form.all("resource").as_slice() {
        [] => server.resource_uri.clone(),
        [r] if *r == server.resource_uri => server.resource_uri.clone(),
        [r] => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_target",
                format!(
                    "resource {r:?} is not the resource this client is registered for ({:?}); compared byte for byte",
                    server.resource_uri
                ),
            ))
        }
        _ => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_target",
                "one resource per token",
            ))
        }
    };
    if !server.enabled {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            format!("resource server {} is disabled", server.id),
        ));
    }
    let scope = granted_scope(form.one("scope")?, &client.allowed_scopes)?;
    let now = state.store().now();
    let lifetime = secs(state.settings().token_lifetime);
    let claims = jwt::AccessClaims {
        iss: state.issuer().to_owned(),
        aud: resource,
        sub: client.client_id.clone(),
        client_id: client.client_id.clone(),
        scope: scope.clone(),
        iat: now,
        exp: now + lifetime,
        jti: auth::random_hex::<16>()?,
    };
    let (_kid, key) = state.signer().await?;
    let access_token = jwt::sign(&key, &claims)?;
    Ok((
        no_store(),
        Json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": scope,
        })),
    )
        .into_response())
}

/// requested ∩ allowed, in the order requested; everything allowed when nothing is requested.
pub(crate) fn granted_scope(
    requested: Option<&str>,
    allowed: &[String],
) -> Result<String, OAuthError> {
    let requested: Vec<&str> = requested
        .map(|s| s.split(' ').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if let Some(bad) = requested.iter().find(|s| !model::is_scope_token(s)) {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            format!("{bad:?} is not a scope token"),
        ));
    }
    let granted: Vec<&str> = if requested.is_empty() {
        allowed.iter().map(String::as_str).collect()
    } else {
        let mut seen = BTreeSet::new();
        requested
            .into_iter()
            .filter(|s| allowed.iter().any(|a| a == s) && seen.insert(*s))
            .collect()
    };
    if granted.is_empty() {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            format!(
                "none of the requested scopes is allowed for this client (allowed: {})",
                allowed.join(" ")
            ),
        ));
    }
    Ok(granted.join(" "))
}

/// Verifies a token issued here and still valid at `now`: our signature with an active key,
/// our issuer, not expired, not revoked, its client still registered and enabled. `None`
/// otherwise.
async fn active_claims(
    state: &AppState,
    token: &str,
    now: i64,
) -> Result<Option<jwt::AccessClaims>, Error> {
    let keys = state.store().signing_keys(false).await?;
    let Some(claims) = jwt::verify(token, &keys) else {
        return Ok(None);
    };
    if claims.iss != state.issuer() || claims.exp <= now {
        return Ok(None);
    }
    if state.store().is_revoked(&claims.jti).await? {
        return Ok(None);
    }
    match state.store().client_by_id(&claims.client_id).await? {
        Some(c) if c.enabled => Ok(Some(claims)),
        _ => Ok(None),
    }
}

/// `POST /oauth/introspect` (RFC 7662), authenticated by a resource server's credentials.
/// Tokens for another resource (audience) are reported inactive.
pub(crate) async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let form = Form::parse(&headers, &body)?;
    let creds = credentials(&headers, &form)?;
    let server = authenticate_resource_server(&state, &creds).await?;
    let token = form
        .one("token")?
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let now = state.store().now();
    let body = match active_claims(&state, token, now).await? {
        Some(c) if c.aud == server.resource_uri => json!({
            "active": true,
            "scope": c.scope,
            "client_id": c.client_id,
            "sub": c.sub,
            "aud": c.aud,
            "iss": c.iss,
            "exp": c.exp,
            "iat": c.iat,
            "jti": c.jti,
            "token_type": "Bearer",
        }),
        _ => json!({ "active": false }),
    };
    Ok((no_store(), Json(body)).into_response())
}

/// `POST /oauth/revoke` (RFC 7009): by the client the token was issued to, or by the resource
/// server it is for. Unknown, invalid and expired tokens are accepted silently (200).
pub(crate) async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let form = Form::parse(&headers, &body)?;
    let creds = credentials(&headers, &form)?;
    // Resource server ids and client ids never collide: `rs-…` and `cl-…`.
    let caller = if creds.id.starts_with("rs-") {
        let s = authenticate_resource_server(&state, &creds).await?;
        (Actor::ResourceServer(s.id), Some(s.resource_uri))
    } else {
        let c = authenticate_client(&state, &creds).await?;
        (Actor::Client(c.client_id), None)
    };
    let token = form
        .one("token")?
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let now = state.store().now();
    let Some(claims) = active_claims(&state, token, now).await? else {
        return Ok((StatusCode::OK, no_store()).into_response());
    };
    let allowed = match &caller {
        (Actor::ResourceServer(_), Some(uri)) => *uri == claims.aud,
        (Actor::Client(id), _) => *id == claims.client_id,
        _ => false,
    };
    if !allowed {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "this token was not issued to you, nor is it for your resource",
        ));
    }
    let rs_id = state
        .store()
        .client_by_id(&claims.client_id)
        .await?
        .map(|c| c.resource_server_id);
    state
        .store()
        .revoke_token(
            &caller.0,
            rs_id.as_deref(),
            &claims.jti,
            claims.exp,
            json!({ "jti": claims.jti, "client_id": claims.client_id, "aud": claims.aud, "exp": claims.exp }),
        )
        .await?;
    Ok((StatusCode::OK, no_store()).into_response())
}

/// `GET /.well-known/jwks.json`: the public keys of every active signing key.
pub(crate) async fn jwks(State(state): State<AppState>) -> Result<Response, OAuthError> {
    // A first request before any token was issued still finds a key.
    state.signer().await?;
    let keys: Vec<Value> = state
        .store()
        .signing_keys(false)
        .await?
        .into_iter()
        .map(|k| k.public_jwk)
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/jwk-set+json"),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        json!({ "keys": keys }).to_string(),
    )
        .into_response())
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
pub(crate) async fn metadata(State(state): State<AppState>) -> Result<Response, OAuthError> {
    let issuer = state.issuer();
    let scopes = state.store().all_scopes().await?;
    // Client assertions may be signed with any asymmetric algorithm the shared verifier knows.
    let signing_algs: Vec<&str> = authsec_proto::jws::Algorithm::ALL
        .iter()
        .map(|a| a.name())
        .collect();
    Ok(Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "grant_types_supported": ["client_credentials"],
        // No authorization endpoint: machine clients only.
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": CLIENT_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": signing_algs,
        "introspection_endpoint_auth_methods_supported": SECRET_METHODS,
        "revocation_endpoint_auth_methods_supported": CLIENT_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": signing_algs,
        "scopes_supported": scopes,
        "resource_parameter_supported": true,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec!["a:read".into(), "a:write".into()]
    }

    #[test]
    fn no_requested_scope_grants_everything_allowed() {
        assert_eq!(granted_scope(None, &allowed()).unwrap(), "a:read a:write");
        assert_eq!(
            granted_scope(Some(""), &allowed()).unwrap(),
            "a:read a:write"
        );
    }

    #[test]
    fn requested_scopes_are_intersected_with_allowed_ones() {
        assert_eq!(
            granted_scope(Some("a:write b:admin a:write"), &allowed()).unwrap(),
            "a:write"
        );
    }

    #[test]
    fn an_empty_intersection_is_invalid_scope() {
        let e = granted_scope(Some("A:READ"), &allowed()).unwrap_err();
        assert_eq!(e.error, "invalid_scope");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }
}
