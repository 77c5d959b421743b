//! The endpoints the SDK calls, authenticated with HTTP Basic = the resource server's
//! credentials (its id and secret, the same pair it uses for introspection):
//!
//! * `GET /authsec/resource-servers/{id}/sdk-policy` → the policy document
//!   `{"state","policy_complete","reason","generation","scopes_supported","tool_policy":[…]}`.
//!   With `?wait_for_generation=N` it long-polls: it answers at once if the generation differs
//!   from `N`, otherwise when it changes, or after the long-poll timeout (default 25 s) with
//!   the unchanged policy. The answer is always the current policy; the SDK compares
//!   generations.
//!   With prompts or resources mapped it also holds `prompt_policy` and `resource_policy`.
//! * `PUT /authsec/resource-servers/{id}/sdk-manifest` with the inventory
//!   `{"tools":[{"name","title","description","input_schema","annotations","suggested_scopes"}],
//!   "prompts":[{"name","title","description","arguments","suggested_scopes"}],
//!   "resources":[{"uri","name","title","description","mime_type","suggested_scopes"}]}`
//!   (each list optional), or — as older SDKs send it — the bare array of tools.
//!
//! Failures: 401 with `WWW-Authenticate: Basic realm="authsec-console"` for missing or wrong
//! credentials (also for unknown ids, so ids cannot be probed), 400 for a malformed request.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tokio::time::Instant;

use crate::auth::{self, Actor};
use crate::error::Error;
use crate::model::SdkPolicyDocument;
use crate::state::AppState;
use authsec_proto::wire::Manifest;

/// A denial of an SDK request.
#[derive(Debug)]
pub(crate) enum SdkError {
    Unauthorized(&'static str),
    BadRequest(String),
    Console(Error),
}

impl From<Error> for SdkError {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidInput { .. } => SdkError::BadRequest(e.to_string()),
            // The resource server was deleted after authentication.
            Error::NotFound {
                kind: "resource_server",
                ..
            } => SdkError::Unauthorized("the resource server no longer exists"),
            e => SdkError::Console(e),
        }
    }
}

impl IntoResponse for SdkError {
    fn into_response(self) -> Response {
        let (status, error, description) = match self {
            SdkError::Unauthorized(d) => (StatusCode::UNAUTHORIZED, "invalid_client", d.to_owned()),
            SdkError::BadRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", d),
            SdkError::Console(e) => {
                tracing::error!(target: "authsec::console", error = %e, "SDK endpoint failure");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "internal error; see the console log".to_owned(),
                )
            }
        };
        let mut resp = (
            status,
            Json(json!({ "error": error, "error_description": description })),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(auth::BASIC_CHALLENGE),
            );
        }
        resp
    }
}

/// Checks that the Basic credentials are this resource server's.
async fn authenticate(state: &AppState, headers: &HeaderMap, rs_id: &str) -> Result<(), SdkError> {
    let Some((id, secret)) = auth::basic_credentials(headers) else {
        return Err(SdkError::Unauthorized(
            "HTTP Basic credentials of the resource server are required (AUTHSEC_INTROSPECTION_CLIENT_ID / _SECRET)",
        ));
    };
    if id != rs_id {
        return Err(SdkError::Unauthorized(
            "the credentials belong to another resource server than the one in the path",
        ));
    }
    match state
        .store()
        .authenticate_resource_server(&id, &secret)
        .await?
    {
        Some(_) => Ok(()),
        None => Err(SdkError::Unauthorized(
            "unknown resource server or wrong secret",
        )),
    }
}

fn parse_wait(query: Option<&str>) -> Result<Option<i64>, SdkError> {
    let Some(q) = query else { return Ok(None) };
    let mut wait = None;
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        if k == "wait_for_generation" {
            if wait.is_some() {
                return Err(SdkError::BadRequest(
                    "wait_for_generation is repeated".into(),
                ));
            }
            wait = Some(v.parse::<i64>().map_err(|_| {
                SdkError::BadRequest(format!("wait_for_generation={v:?} is not an integer"))
            })?);
        }
    }
    Ok(wait)
}

/// The policy answer; records what the SDK now holds (the console's SDK status).
fn policy_response(state: &AppState, rs_id: &str, policy: SdkPolicyDocument) -> Response {
    state.record_sdk_fetch(rs_id, policy.generation, state.store().now());
    ([(header::CACHE_CONTROL, "no-store")], Json(policy)).into_response()
}

/// `GET /authsec/resource-servers/{id}/sdk-policy[?wait_for_generation=N]`.
pub(crate) async fn sdk_policy(
    State(state): State<AppState>,
    Path(rs_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, SdkError> {
    authenticate(&state, &headers, &rs_id).await?;
    // The header values share hyper's read buffer (8 KB): a waiter must not keep it.
    drop(headers);
    let wait_for = parse_wait(query.as_deref())?;
    let Some(known) = wait_for else {
        let policy = state.store().sdk_policy(&rs_id).await?;
        return Ok(policy_response(&state, &rs_id, policy));
    };
    let _waiting = state.sdk_waiting(&rs_id);
    // Subscribe before reading, so a change between the read and the wait is not missed.
    let mut changes = state.store().subscribe(&rs_id);
    let mut shutdown = state.shutdown_signal();
    let deadline = Instant::now() + state.long_poll_timeout();
    let mut policy = state.store().sdk_policy(&rs_id).await?;
    loop {
        if policy.generation != known || *shutdown.borrow() {
            return Ok(policy_response(&state, &rs_id, policy));
        }
        // Not held while waiting: it is read again when woken.
        drop(policy);
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    // The channel was dropped: re-read once, then answer.
                    let policy = state.store().sdk_policy(&rs_id).await?;
                    return Ok(policy_response(&state, &rs_id, policy));
                }
            }
            _ = shutdown.changed() => {}
            _ = tokio::time::sleep_until(deadline) => {
                let policy = state.store().sdk_policy(&rs_id).await?;
                return Ok(policy_response(&state, &rs_id, policy));
            }
        }
        // Every waiter this notification woke shares one read.
        let seen = *changes.borrow_and_update();
        policy = SdkPolicyDocument::clone(&*state.store().sdk_policy_after(&rs_id, seen).await?);
    }
}

/// `PUT /authsec/resource-servers/{id}/sdk-manifest`.
pub(crate) async fn sdk_manifest(
    State(state): State<AppState>,
    Path(rs_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, SdkError> {
    authenticate(&state, &headers, &rs_id).await?;
    let manifest: Manifest = serde_json::from_slice(&body).map_err(|e| {
        SdkError::BadRequest(format!(
            "the manifest must be a JSON object {{\"tools\",\"prompts\",\"resources\"}} or an array of tools {{\"name\",\"title\",\"description\",\"input_schema\",\"annotations\",\"suggested_scopes\"}}: {e}"
        ))
    })?;
    let outcome = state
        .store()
        .apply_manifest(&Actor::ResourceServer(rs_id.clone()), &rs_id, manifest)
        .await?;
    Ok(Json(outcome).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_for_generation_is_parsed_strictly() {
        assert_eq!(parse_wait(None).unwrap(), None);
        assert_eq!(parse_wait(Some("x=1")).unwrap(), None);
        assert_eq!(
            parse_wait(Some("wait_for_generation=12")).unwrap(),
            Some(12)
        );
        assert!(parse_wait(Some("wait_for_generation=abc")).is_err());
        assert!(parse_wait(Some("wait_for_generation=1&wait_for_generation=2")).is_err());
    }
}
