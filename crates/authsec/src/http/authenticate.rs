//! The second stage: [`Authenticate`] requires a valid bearer token ([`Validator::validate`])
//! and records the [`Principal`](crate::Principal) in the [`Attempt`].
//!
//! | condition | answer |
//! |---|---|
//! | no token | 401 `no_token`, `scope` = what the operation needs |
//! | token in the query string or a form body, malformed header | 400 `invalid_request` |
//! | a token the validator rejects | 401 (or 503 without a usable key or introspection backend) |
//! | in-band mode ([`Config::in_band_denials`](crate::Config::in_band_denials)): any of the 401s for a JSON-RPC request | 200 with the denial in band |
//! | in-band mode: a lifecycle-only `POST` (`initialize`, `notifications/initialized`, `ping`) that opens no session | passes without a principal |
//!
//! It also reads the console's policy for the request (the remote policy modes): the first
//! denial that depends on it is a 401's `scope`.
//!
//! [`Validator::validate`]: crate::Validator::validate

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{header, Method, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::attempt::Attempt;
use super::filter::ResponseBody;
use crate::error::{AuthError, InvalidRequest};
use crate::mcp::{self, Inspection};
use crate::token::{self, Fingerprint};

/// Creates [`Authenticate`] services.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AuthenticateLayer;

impl<S> Layer<S> for AuthenticateLayer {
    type Service = Authenticate<S>;
    fn layer(&self, inner: S) -> Authenticate<S> {
        Authenticate { inner }
    }
}

/// Validates the request's bearer token; see the [module](self) table.
#[derive(Debug, Clone)]
pub struct Authenticate<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, B> Service<Request<Attempt>> for Authenticate<S>
where
    S: Service<Request<Attempt>, Response = Response<ResponseBody<B>>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    // Validation may fetch keys or introspect: the one boxed future of the stages.
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Attempt>) -> Self::Future {
        // The ready service goes into the future; a fresh clone stays for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let console = req.body().shared.console_state().await;
            req.body_mut().console = console;
            match authenticate(&req).await {
                Ok(principal) => req.body_mut().principal = Some(principal),
                Err(failure) => {
                    req.body_mut().fingerprint = failure.fingerprint;
                    if !lifecycle_pass(&req) {
                        return Ok(req.body().deny(failure.error));
                    }
                }
            }
            inner.call(req).await
        })
    }
}

/// Why a request has no principal.
struct Failure {
    error: AuthError,
    /// The presented token's, when one was presented and rejected.
    fingerprint: Option<Fingerprint>,
}

async fn authenticate(req: &Request<Attempt>) -> Result<crate::Principal, Failure> {
    let attempt = req.body();
    let config = attempt.config();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if token::form_body_has_access_token(content_type, &attempt.body) {
        return Err(Failure {
            error: AuthError::InvalidRequest(InvalidRequest::TokenInBody),
            fingerprint: None,
        });
    }
    let token = token::extract_bearer(req.headers(), req.uri().query(), config.max_token_bytes)
        .map_err(|error| Failure {
            error,
            fingerprint: None,
        })?;
    attempt
        .shared
        .validator
        .validate(token)
        .await
        .map_err(|error| Failure {
            error,
            fingerprint: Some(Fingerprint::of(token)),
        })
}

/// In-band mode lets the handshake and liveness through without a token, so clients that
/// cannot act on HTTP challenges still connect and then learn in band why a call fails. Only a
/// `POST` that opens no existing session: a request without a valid token never touches a
/// session.
fn lifecycle_pass(req: &Request<Attempt>) -> bool {
    let attempt = req.body();
    attempt.config().in_band_denials
        && req.method() == Method::POST
        && !req.headers().contains_key(mcp::SESSION)
        && attempt
            .inspected()
            .is_some_and(Inspection::is_lifecycle_only)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{attempt_request, body_json, local_layer, token, Capture};
    use super::*;
    use serde_json::json;

    const CALL: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo"}}"#;
    const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

    #[tokio::test]
    async fn a_valid_token_goes_on_with_its_principal() {
        let layer = local_layer(|b| b);
        let capture = Capture::default();
        let auth = format!("Bearer {}", token("demo:read"));
        let req = attempt_request(&layer, Method::POST, CALL, &[("authorization", &auth)]);
        let resp = AuthenticateLayer
            .layer(capture.clone())
            .call(req)
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let seen = capture.attempt();
        let principal = seen.principal.as_ref().expect("principal");
        assert_eq!(principal.subject(), Some("alice"));
        assert!(seen.fingerprint.is_none());
    }

    #[tokio::test]
    async fn no_token_is_401_naming_the_tools_scope() {
        let layer = local_layer(|b| b);
        let capture = Capture::default();
        let req = attempt_request(&layer, Method::POST, CALL, &[]);
        let resp = AuthenticateLayer
            .layer(capture.clone())
            .call(req)
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        assert_eq!(
            resp.headers()["www-authenticate"],
            "Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\", scope=\"demo:read\""
        );
        let body = body_json(resp).await;
        // No `error` without a token (RFC 6750 §3.1).
        assert_eq!(body.get("error"), None);
        assert_eq!(body["reason"], "no_token");
        assert!(!capture.called());
    }

    #[tokio::test]
    async fn a_token_in_the_query_string_is_400() {
        let layer = local_layer(|b| b);
        let capture = Capture::default();
        let mut req = attempt_request(&layer, Method::POST, CALL, &[]);
        *req.uri_mut() = "/mcp?access_token=abc".parse().unwrap();
        let resp = AuthenticateLayer
            .layer(capture.clone())
            .call(req)
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(body_json(resp).await["error"], "invalid_request");
        assert!(!capture.called());
    }

    #[tokio::test]
    async fn a_rejected_token_is_401_invalid_token() {
        let layer = local_layer(|b| b);
        let capture = Capture::default();
        let req = attempt_request(
            &layer,
            Method::POST,
            CALL,
            &[("authorization", "Bearer not.a.jwt")],
        );
        let resp = AuthenticateLayer
            .layer(capture.clone())
            .call(req)
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        assert_eq!(body_json(resp).await["error"], "invalid_token");
        assert!(!capture.called());
    }

    #[tokio::test]
    async fn in_band_a_missing_token_is_answered_in_band() {
        let layer = local_layer(|b| b.in_band_denials(true));
        let capture = Capture::default();
        let req = attempt_request(&layer, Method::POST, CALL, &[]);
        let resp = AuthenticateLayer
            .layer(capture.clone())
            .call(req)
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body = body_json(resp).await;
        assert_eq!(body["id"], json!(7));
        assert_eq!(body["result"]["isError"], json!(true));
        assert!(!capture.called());
    }

    #[tokio::test]
    async fn in_band_a_ping_without_a_token_passes_without_a_principal() {
        let layer = local_layer(|b| b.in_band_denials(true));
        let capture = Capture::default();
        let req = attempt_request(&layer, Method::POST, PING, &[]);
        let resp = AuthenticateLayer
            .layer(capture.clone())
            .call(req)
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(capture.attempt().principal.is_none());
    }

    #[tokio::test]
    async fn in_band_a_ping_into_a_session_without_a_token_is_401() {
        let layer = local_layer(|b| b.in_band_denials(true));
        let capture = Capture::default();
        let req = attempt_request(&layer, Method::POST, PING, &[("mcp-session-id", "s1")]);
        let resp = AuthenticateLayer
            .layer(capture.clone())
            .call(req)
            .await
            .unwrap();
        // In band: a JSON-RPC error for the ping.
        assert_eq!(resp.status(), 200);
        let body = body_json(resp).await;
        assert_eq!(body["id"], json!(1));
        assert_eq!(body["error"]["code"], mcp::DENIAL_ERROR_CODE);
        assert!(!capture.called());
    }
}
