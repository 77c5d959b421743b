//! The first stage and the third: [`Inspect`] buffers the body and inspects it as JSON-RPC;
//! [`WellFormed`], once the caller is authenticated, refuses what the inspection found wrong.
//!
//! | stage | condition | answer |
//! |---|---|---|
//! | [`Inspect`] | body over [`Config::max_body_bytes`](crate::Config::max_body_bytes) (declared or read) | 413 `payload_too_large` |
//! | [`Inspect`] | the body fails mid-way | 400 `malformed_body` |
//! | [`WellFormed`] | a body on a method other than `POST` | 400 `body_not_allowed` |
//! | [`WellFormed`] | a `POST` body that is not JSON-RPC ([`crate::mcp::inspect`]) | 400 `malformed_body` |
//! | [`WellFormed`] | `Mcp-Method` / `Mcp-Name` disagreeing with the body | 400 `mcp_method_mismatch` / `mcp_name_mismatch` (a JSON-RPC `HeaderMismatch` error for 2026-07-28 clients) |
//!
//! The refusals of [`WellFormed`] wait for [`super::authenticate`]: a caller without a valid
//! token learns that it needs one (401) before anything about its request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};

use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::attempt::Attempt;
use super::buffer::{Buffer, BufferError};
use super::filter::ResponseBody;
use super::reply::Reply;
use super::Shared;
use crate::error::{AuthError, InvalidRequest};
use crate::mcp;

/// Creates [`Inspect`] services.
#[derive(Clone)]
pub(crate) struct InspectLayer {
    shared: Arc<Shared>,
}

impl InspectLayer {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        InspectLayer { shared }
    }
}

impl std::fmt::Debug for InspectLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InspectLayer")
    }
}

impl<S> Layer<S> for InspectLayer {
    type Service = Inspect<S>;
    fn layer(&self, inner: S) -> Inspect<S> {
        Inspect {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// Buffers the request body up to the configured limit (above: 413), inspects a `POST` body as
/// JSON-RPC (keeping a failure for [`WellFormed`]), and passes the request on with an
/// [`Attempt`] as its body.
#[derive(Clone)]
pub struct Inspect<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> std::fmt::Debug for Inspect<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Inspect")
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Inspect<S>
where
    S: Service<Request<Attempt>, Response = Response<ResponseBody<ResBody>>> + Clone,
    ReqBody: Body + Unpin,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = InspectFuture<S, Buffer<ReqBody>, S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let (parts, body) = req.into_parts();
        let attempt = Attempt::new(self.shared.clone(), &parts.method, &parts.headers);
        let limit = attempt.config().max_body_bytes;
        if declared_length(&parts.headers).is_some_and(|len| len > limit as u64) {
            let denial = attempt.deny(AuthError::PayloadTooLarge { limit });
            return InspectFuture::answered(denial);
        }
        let mut body = Buffer::new(body, limit);
        let request = Request::from_parts(parts, attempt);
        // A body that has already arrived (a small message usually has) is read now and the
        // next stage called at once; only a body still arriving defers the call, which then
        // needs a service of its own (a clone, which for some services allocates).
        if let Poll::Ready(read) = Pin::new(&mut body).poll(&mut Context::from_waker(Waker::noop()))
        {
            return InspectFuture {
                state: State::Answer {
                    reply: proceed(&mut self.inner, request, read, limit),
                },
            };
        }
        // The ready service goes into the future; a fresh clone stays for the next call.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        InspectFuture {
            state: State::Reading {
                body,
                rest: Some(Reading {
                    request,
                    inner,
                    limit,
                }),
            },
        }
    }
}

/// Inspects the read body and calls the next stage, or answers a body that could not be read.
fn proceed<S, B, E>(
    inner: &mut S,
    mut request: Request<Attempt>,
    read: Result<Bytes, BufferError<E>>,
    limit: usize,
) -> Reply<S::Future, B>
where
    S: Service<Request<Attempt>, Response = Response<ResponseBody<B>>>,
{
    let is_post = request.method() == Method::POST;
    let attempt = request.body_mut();
    match read {
        Ok(bytes) => {
            // MCP messages travel in POST bodies only; a body on another method is refused by
            // `WellFormed`.
            if is_post {
                attempt.inspection = Some(mcp::inspect(&bytes));
            }
            attempt.body = bytes;
            Reply::next(inner.call(request))
        }
        Err(BufferError::TooLarge) => {
            Reply::denied(attempt.deny(AuthError::PayloadTooLarge { limit }))
        }
        Err(BufferError::Body(_)) => {
            Reply::denied(attempt.deny(AuthError::InvalidRequest(InvalidRequest::MalformedBody)))
        }
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// What waits for the body.
struct Reading<S> {
    /// The request, its body yet to be filled in.
    request: Request<Attempt>,
    inner: S,
    limit: usize,
}

pin_project! {
    /// The future of [`Inspect`]: reads the body, then runs the next stage.
    pub struct InspectFuture<S, C, F, B> {
        #[pin]
        state: State<S, C, F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, C, F, B> {
        Reading { #[pin] body: C, rest: Option<Reading<S>> },
        Answer { #[pin] reply: Reply<F, B> },
    }
}

impl<S, C, F, B> InspectFuture<S, C, F, B> {
    fn answered(denial: Response<ResponseBody<B>>) -> Self {
        InspectFuture {
            state: State::Answer {
                reply: Reply::denied(denial),
            },
        }
    }
}

impl<S, C, E, B> Future for InspectFuture<S, C, S::Future, B>
where
    S: Service<Request<Attempt>, Response = Response<ResponseBody<B>>>,
    C: Future<Output = Result<Bytes, BufferError<E>>>,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let reply = match this.state.as_mut().project() {
                StateProj::Answer { reply } => return reply.poll(cx),
                StateProj::Reading { body, rest } => {
                    let read = ready!(body.poll(cx));
                    let Reading {
                        request,
                        mut inner,
                        limit,
                    } = rest.take().expect("InspectFuture polled after completion");
                    proceed(&mut inner, request, read, limit)
                }
            };
            this.state.set(State::Answer { reply });
        }
    }
}

impl<S, C, F, B> std::fmt::Debug for InspectFuture<S, C, F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InspectFuture")
    }
}

/// Creates [`WellFormed`] services.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WellFormedLayer;

impl<S> Layer<S> for WellFormedLayer {
    type Service = WellFormed<S>;
    fn layer(&self, inner: S) -> WellFormed<S> {
        WellFormed { inner }
    }
}

/// Refuses an authenticated request whose body cannot be what it claims: a body on a method
/// other than `POST`, a `POST` body that is not JSON-RPC, routing headers (`Mcp-Method`,
/// `Mcp-Name`) that disagree with the body.
#[derive(Debug, Clone)]
pub struct WellFormed<S> {
    inner: S,
}

impl<S, B> Service<Request<Attempt>> for WellFormed<S>
where
    S: Service<Request<Attempt>, Response = Response<ResponseBody<B>>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Reply<S::Future, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Attempt>) -> Self::Future {
        let attempt = req.body();
        let refusal = if req.method() != Method::POST && !attempt.body.is_empty() {
            Some(AuthError::InvalidRequest(InvalidRequest::BodyNotAllowed))
        } else {
            match &attempt.inspection {
                Some(Err(e)) => Some(e.clone()),
                Some(Ok(inspection)) => mcp::check_mcp_name(req.headers(), inspection).err(),
                None => None,
            }
        };
        match refusal {
            Some(e) => Reply::denied(attempt.deny(e)),
            None => Reply::next(self.inner.call(req)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{body_json, local_layer, Capture};
    use super::*;
    use bytes::Bytes;
    use http_body_util::Full;
    use serde_json::json;

    const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}"#;

    fn inspect(capture: &Capture) -> Inspect<Capture> {
        InspectLayer::new(local_layer(|b| b.max_body_bytes(1024)).shared.clone())
            .layer(capture.clone())
    }

    #[tokio::test]
    async fn a_post_body_is_buffered_and_inspected() {
        let capture = Capture::default();
        let req = Request::post("/mcp").body(Full::new(Bytes::from_static(CALL.as_bytes())));
        let resp = inspect(&capture).call(req.unwrap()).await.unwrap();
        assert_eq!(resp.status(), 200);
        let seen = capture.attempt();
        assert_eq!(seen.body, CALL.as_bytes());
        let inspected = seen.inspected().expect("inspected");
        assert_eq!(inspected.method_label(), "tools/call");
    }

    /// A body whose data arrives after one `Pending`.
    struct Late(Option<Bytes>, bool);

    impl Body for Late {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            if !self.1 {
                self.1 = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(self.0.take().map(|d| Ok(http_body::Frame::data(d))))
        }
    }

    #[tokio::test]
    async fn a_body_that_has_arrived_reaches_the_next_stage_at_once() {
        let capture = Capture::default();
        let mut svc = inspect(&capture);
        let req = Request::post("/mcp").body(Full::new(Bytes::from_static(CALL.as_bytes())));
        let future = svc.call(req.unwrap());
        assert!(capture.called());
        assert_eq!(future.await.unwrap().status(), 200);
    }

    #[tokio::test]
    async fn a_body_still_arriving_is_read_before_the_next_stage_runs() {
        let capture = Capture::default();
        let mut svc = inspect(&capture);
        let body = Late(Some(Bytes::from_static(CALL.as_bytes())), false);
        let future = svc.call(Request::post("/mcp").body(body).unwrap());
        assert!(!capture.called());
        assert_eq!(future.await.unwrap().status(), 200);
        let seen = capture.attempt();
        assert_eq!(seen.body, CALL.as_bytes());
        assert_eq!(
            seen.inspected().expect("inspected").method_label(),
            "tools/call"
        );
    }

    #[tokio::test]
    async fn a_get_body_is_buffered_but_not_inspected() {
        let capture = Capture::default();
        let req = Request::get("/mcp").body(Full::new(Bytes::from_static(b"{}")));
        inspect(&capture).call(req.unwrap()).await.unwrap();
        let seen = capture.attempt();
        assert_eq!(seen.body, &b"{}"[..]);
        assert!(seen.inspection.is_none());
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_413_before_reading() {
        let capture = Capture::default();
        let req = Request::post("/mcp")
            .header("content-length", "1025")
            .body(Full::new(Bytes::from_static(b"{}")));
        let resp = inspect(&capture).call(req.unwrap()).await.unwrap();
        assert_eq!(resp.status(), 413);
        assert!(resp.headers().get("www-authenticate").is_none());
        let body = body_json(resp).await;
        assert_eq!(body["error"], "invalid_request");
        assert_eq!(body["reason"], "payload_too_large");
        assert!(!capture.called());
    }

    #[tokio::test]
    async fn a_body_over_the_limit_without_a_length_is_413() {
        let capture = Capture::default();
        let big = Bytes::from(vec![b' '; 1025]);
        let req = Request::post("/mcp").body(Full::new(big));
        let resp = inspect(&capture).call(req.unwrap()).await.unwrap();
        assert_eq!(resp.status(), 413);
        assert_eq!(body_json(resp).await["reason"], "payload_too_large");
        assert!(!capture.called());
    }

    fn well_formed(capture: &Capture) -> WellFormed<Capture> {
        WellFormedLayer.layer(capture.clone())
    }

    fn attempt_request(
        method: Method,
        body: &'static str,
        headers: &[(&str, &str)],
    ) -> Request<Attempt> {
        let layer = local_layer(|b| b);
        let mut builder = Request::builder().method(method).uri("/mcp");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (parts, ()) = builder.body(()).unwrap().into_parts();
        let mut attempt = Attempt::new(layer.shared.clone(), &parts.method, &parts.headers);
        if parts.method == Method::POST {
            attempt.inspection = Some(mcp::inspect(body.as_bytes()));
        }
        attempt.body = Bytes::from_static(body.as_bytes());
        Request::from_parts(parts, attempt)
    }

    #[tokio::test]
    async fn a_well_formed_request_goes_on() {
        let capture = Capture::default();
        let req = attempt_request(Method::POST, CALL, &[("mcp-name", "echo")]);
        let resp = well_formed(&capture).call(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(capture.called());
    }

    #[tokio::test]
    async fn a_body_on_get_is_400_body_not_allowed() {
        let capture = Capture::default();
        let req = attempt_request(Method::GET, "{}", &[]);
        let resp = well_formed(&capture).call(req).await.unwrap();
        assert_eq!(resp.status(), 400);
        let body = body_json(resp).await;
        assert_eq!(body["error"], "invalid_request");
        assert_eq!(body["reason"], "body_not_allowed");
        assert!(!capture.called());
    }

    #[tokio::test]
    async fn an_unparsable_post_body_is_400_malformed_body() {
        let capture = Capture::default();
        let req = attempt_request(Method::POST, "{not json", &[]);
        let resp = well_formed(&capture).call(req).await.unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(body_json(resp).await["reason"], "malformed_body");
        assert!(!capture.called());
    }

    #[tokio::test]
    async fn an_mcp_name_header_naming_another_tool_is_400_for_an_earlier_revision() {
        let capture = Capture::default();
        let req = attempt_request(Method::POST, CALL, &[("mcp-name", "other")]);
        let resp = well_formed(&capture).call(req).await.unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(body_json(resp).await["reason"], "mcp_name_mismatch");
        assert!(!capture.called());
    }

    #[tokio::test]
    async fn an_mcp_name_mismatch_is_a_json_rpc_header_mismatch_for_2026_07_28() {
        let capture = Capture::default();
        let req = attempt_request(
            Method::POST,
            CALL,
            &[
                ("mcp-name", "other"),
                ("mcp-protocol-version", "2026-07-28"),
            ],
        );
        let resp = well_formed(&capture).call(req).await.unwrap();
        assert_eq!(resp.status(), 400);
        let body = body_json(resp).await;
        assert_eq!(body["jsonrpc"], "2.0");
        assert_eq!(body["id"], json!(1));
        assert_eq!(body["error"]["code"], mcp::HEADER_MISMATCH_ERROR_CODE);
        assert!(!capture.called());
    }
}
