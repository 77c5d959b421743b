//! The fourth stage: [`Session`] opens the request's `Mcp-Session-Id` for its principal and
//! seals the one the inner service answers with: a MAC of the inner id and the principal,
//! keyed by `AUTHSEC_SESSION_KEY`, so nothing is stored.
//!
//! | presented id | answer |
//! |---|---|
//! | none | the request goes on |
//! | issued here for this principal | the request goes on with the inner service's own id |
//! | issued here for another principal | 403 `session_principal_mismatch` |
//! | not issued here (or under another key) | 404 `session_unknown` |
//! | repeated, empty, too long, not visible ASCII | 400 `malformed_session_id` |
//!
//! On the way out the inner service's id is replaced by the sealed one; an echo of the id the
//! request presented reuses the presented value.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::{HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::attempt::Attempt;
use super::filter::ResponseBody;
use super::reply::Reply;
use super::Shared;
use crate::error::{AuthError, InvalidRequest};
use crate::mcp;
use crate::principal::Principal;

/// Creates [`Session`] services.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SessionLayer;

impl<S> Layer<S> for SessionLayer {
    type Service = Session<S>;
    fn layer(&self, inner: S) -> Session<S> {
        Session { inner }
    }
}

/// Binds sessions to their principal; see the [module](self) table.
#[derive(Debug, Clone)]
pub struct Session<S> {
    inner: S,
}

impl<S, B> Service<Request<Attempt>> for Session<S>
where
    S: Service<Request<Attempt>, Response = Response<ResponseBody<B>>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = SessionFuture<S::Future, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Attempt>) -> Self::Future {
        let attempt = req.body();
        let opened = attempt
            .shared
            .sessions
            .open(req.headers(), attempt.principal.as_ref());
        // The verified sealed id and its inner id, to answer an echo of the same id without
        // sealing it again.
        let mut presented = None;
        match opened {
            Ok(Some(inner_id)) => match HeaderValue::from_str(&inner_id) {
                Ok(v) => {
                    if let Some(sealed) = req.headers_mut().insert(mcp::SESSION, v) {
                        presented = Some((inner_id, sealed));
                    }
                }
                Err(_) => {
                    let malformed = AuthError::InvalidRequest(InvalidRequest::MalformedSessionId);
                    return SessionFuture::denied(req.body().deny(malformed));
                }
            },
            Ok(None) => {}
            Err(e) => return SessionFuture::denied(attempt.deny(e)),
        }
        let attempt = req.body();
        let seal = Seal {
            shared: attempt.shared.clone(),
            owner: attempt.principal.clone(),
            presented,
        };
        SessionFuture {
            reply: Reply::next(self.inner.call(req)),
            seal: Some(seal),
        }
    }
}

/// What sealing the response needs.
struct Seal {
    shared: Arc<Shared>,
    owner: Option<Principal>,
    presented: Option<(String, HeaderValue)>,
}

pin_project! {
    /// The future of [`Session`]: the next stage's response with its session id sealed.
    pub struct SessionFuture<F, B> {
        #[pin]
        reply: Reply<F, B>,
        // `None` for a denial of this stage.
        seal: Option<Seal>,
    }
}

impl<F, B> SessionFuture<F, B> {
    fn denied(response: Response<ResponseBody<B>>) -> Self {
        SessionFuture {
            reply: Reply::denied(response),
            seal: None,
        }
    }
}

impl<F, B, E> Future for SessionFuture<F, B>
where
    F: Future<Output = Result<Response<ResponseBody<B>>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.reply.poll(cx))?;
        if let Some(seal) = this.seal.take() {
            seal.shared.sessions.seal_response(
                response.headers_mut(),
                seal.owner.as_ref(),
                seal.presented
                    .as_ref()
                    .map(|(id, sealed)| (id.as_str(), sealed)),
            );
        }
        Poll::Ready(Ok(response))
    }
}

impl<F, B> std::fmt::Debug for SessionFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionFuture")
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{attempt_request, body_json, local_layer, principal, Capture};
    use super::*;
    use http::Method;

    const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

    #[tokio::test]
    async fn a_new_session_id_is_sealed_for_its_principal() {
        let layer = local_layer(|b| b);
        let capture = Capture::default().answering_session("s-1");
        let mut req = attempt_request(&layer, Method::POST, PING, &[]);
        req.body_mut().principal = Some(principal("alice"));
        let resp = SessionLayer.layer(capture.clone()).call(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let sealed = resp.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let expected = layer.shared.sessions.seal("s-1", Some(&principal("alice")));
        assert_eq!(sealed, expected);
    }

    #[tokio::test]
    async fn the_owner_reaches_the_inner_service_with_its_inner_id() {
        let layer = local_layer(|b| b);
        let sealed = layer.shared.sessions.seal("s-1", Some(&principal("alice")));
        let capture = Capture::default();
        let mut req = attempt_request(&layer, Method::POST, PING, &[("mcp-session-id", &sealed)]);
        req.body_mut().principal = Some(principal("alice"));
        let resp = SessionLayer.layer(capture.clone()).call(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(capture.headers()["mcp-session-id"], "s-1");
    }

    #[tokio::test]
    async fn an_echo_of_the_presented_id_answers_the_presented_value() {
        let layer = local_layer(|b| b);
        let sealed = layer.shared.sessions.seal("s-1", Some(&principal("alice")));
        let capture = Capture::default().answering_session("s-1");
        let mut req = attempt_request(&layer, Method::POST, PING, &[("mcp-session-id", &sealed)]);
        req.body_mut().principal = Some(principal("alice"));
        let resp = SessionLayer.layer(capture.clone()).call(req).await.unwrap();
        assert_eq!(resp.headers()["mcp-session-id"], sealed.as_str());
    }

    #[tokio::test]
    async fn another_principals_session_is_403_session_principal_mismatch() {
        let layer = local_layer(|b| b);
        let sealed = layer.shared.sessions.seal("s-1", Some(&principal("alice")));
        let capture = Capture::default();
        let mut req = attempt_request(&layer, Method::POST, PING, &[("mcp-session-id", &sealed)]);
        req.body_mut().principal = Some(principal("mallory"));
        let resp = SessionLayer.layer(capture.clone()).call(req).await.unwrap();
        assert_eq!(resp.status(), 403);
        assert!(resp.headers().get("www-authenticate").is_none());
        let body = body_json(resp).await;
        assert_eq!(body["error"], "invalid_request");
        assert_eq!(body["reason"], "session_principal_mismatch");
        assert!(!capture.called());
    }

    #[tokio::test]
    async fn a_session_id_not_issued_here_is_404_session_unknown() {
        let layer = local_layer(|b| b);
        let capture = Capture::default();
        let mut req = attempt_request(&layer, Method::POST, PING, &[("mcp-session-id", "s-1")]);
        req.body_mut().principal = Some(principal("alice"));
        let resp = SessionLayer.layer(capture.clone()).call(req).await.unwrap();
        assert_eq!(resp.status(), 404);
        assert_eq!(body_json(resp).await["reason"], "session_unknown");
        assert!(!capture.called());
    }
}
