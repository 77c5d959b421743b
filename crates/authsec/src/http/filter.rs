//! The last stage: [`Filter`] hands the inner service the request (its buffered body, the
//! [`Principal`] in its extensions) and filters every `tools/list`, `prompts/list`,
//! `resources/list` and `resources/templates/list` result in the response (JSON and SSE,
//! whatever its id) to what the principal may use, marked `"cacheScope": "private"`. A
//! response that may carry a list but cannot be read is withheld:
//!
//! | response | answer |
//! |---|---|
//! | no body | passed through |
//! | `Content-Encoding` other than `identity` | 502 |
//! | `text/event-stream` | filtered event by event as it flows (an unreadable event ends the stream) |
//! | JSON (`application/json`, `…+json`) | buffered and filtered; invalid JSON: 502 |
//! | another media type that may carry a list | 502 |
//!
//! Filtering is off with [`Config::filter_tools_list`](crate::Config::filter_tools_list) unset
//! and in the `open` policy mode.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::attempt::{json_response, Attempt, ConsoleState};
use super::buffer::{Buffer, BufferError};
use super::{BoxError, RequestBody, Shared};
use crate::filter::{self, Listed, SseFilter};
use crate::policy::{PolicyView, TargetKind};
use crate::principal::Principal;

/// Creates [`Filter`] services.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FilterLayer;

impl<S> Layer<S> for FilterLayer {
    type Service = Filter<S>;
    fn layer(&self, inner: S) -> Filter<S> {
        Filter { inner }
    }
}

/// Calls the inner service and filters the lists of its response; see the [module](self)
/// table.
#[derive(Debug, Clone)]
pub struct Filter<S> {
    inner: S,
}

impl<S, B> Service<Request<Attempt>> for Filter<S>
where
    S: Service<Request<RequestBody>, Response = Response<B>>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody<B>>;
    type Error = S::Error;
    type Future = FilterFuture<S::Future, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Attempt>) -> Self::Future {
        let (mut parts, attempt) = req.into_parts();
        let filtering = attempt.config().filter_tools_list && !attempt.policy().is_open();
        let Attempt {
            shared,
            console,
            principal,
            body,
            ..
        } = attempt;
        if let Some(p) = &principal {
            parts.extensions.insert(p.clone());
        }
        let future = self.inner.call(Request::from_parts(parts, Full::new(body)));
        let allow = filtering.then_some(ListAllow {
            shared,
            console,
            principal,
        });
        FilterFuture {
            state: State::Calling { future, allow },
        }
    }
}

/// Which listed items a caller may see: the tools, prompts and resources the policy in force
/// lets it use, and the resource templates it maps and allows. Without a principal (the
/// in-band handshake) none.
struct ListAllow {
    shared: Arc<Shared>,
    console: ConsoleState,
    principal: Option<Principal>,
}

impl ListAllow {
    fn allows(&self, item: Listed<'_>) -> bool {
        let Some(p) = self.principal.as_ref() else {
            return false;
        };
        let view = PolicyView::select(self.shared.validator.config(), self.console.as_ref());
        let (kind, name) = match item {
            Listed::Tool(n) => (TargetKind::Tool, n),
            Listed::Prompt(n) => (TargetKind::Prompt, n),
            Listed::Resource(uri) => (TargetKind::Resource, uri),
            Listed::ResourceTemplate(t) => return view.allows_template(p.scopes(), t),
        };
        view.decide_target(p.scopes(), kind, name).is_ok()
    }
}

pin_project! {
    /// The future of [`Filter`]: the inner service's response, its lists filtered.
    pub struct FilterFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Calling { #[pin] future: F, allow: Option<ListAllow> },
        Collecting { #[pin] body: Buffer<B>, rest: Option<Buffered> },
    }
}

/// What waits for a buffered response body.
struct Buffered {
    parts: http::response::Parts,
    allow: ListAllow,
    is_json: bool,
}

impl<F, B, E> Future for FilterFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Calling { future, allow } => {
                    let response = ready!(future.poll(cx))?;
                    let Some(allow) = allow.take() else {
                        return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                    };
                    let (parts, body) = response.into_parts();
                    match start(parts, body, allow) {
                        Start::Done(response) => return Poll::Ready(Ok(response)),
                        Start::Buffer(body, rest) => State::Collecting {
                            body: Buffer::new(body, usize::MAX),
                            rest: Some(rest),
                        },
                    }
                }
                StateProj::Collecting { body, rest } => {
                    let collected = ready!(body.poll(cx));
                    let rest = rest.take().expect("FilterFuture polled after completion");
                    return Poll::Ready(Ok(finish(rest, collected)));
                }
            };
            this.state.set(next);
        }
    }
}

impl<F, B> std::fmt::Debug for FilterFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FilterFuture")
    }
}

/// The first look at a response to filter: answered now, or its body to buffer.
enum Start<B> {
    Done(Response<ResponseBody<B>>),
    Buffer(B, Buffered),
}

/// Event streams are filtered as they flow; an empty body needs nothing; anything else is
/// buffered, unless it cannot be read.
fn start<B>(mut parts: http::response::Parts, body: B, allow: ListAllow) -> Start<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    if body.size_hint().exact() == Some(0) && body.is_end_stream() {
        return Start::Done(Response::from_parts(parts, ResponseBody::inner(body)));
    }
    let encoded = parts
        .headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    if encoded {
        return Start::Done(withheld(parts, "the response is compressed"));
    }
    let media = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if media.as_deref() == Some("text/event-stream") {
        parts.headers.remove(header::CONTENT_LENGTH);
        let allow = Box::new(move |item: Listed<'_>| allow.allows(item));
        return Start::Done(Response::from_parts(
            parts,
            ResponseBody::sse(body, SseFilter::new(allow)),
        ));
    }
    let is_json = media
        .as_deref()
        .is_some_and(|m| m == "application/json" || m.ends_with("+json"));
    Start::Buffer(
        body,
        Buffered {
            parts,
            allow,
            is_json,
        },
    )
}

/// Filters a buffered response body.
fn finish<B, E>(
    rest: Buffered,
    collected: Result<Bytes, BufferError<E>>,
) -> Response<ResponseBody<B>> {
    let Buffered {
        mut parts,
        allow,
        is_json,
    } = rest;
    let Ok(original) = collected else {
        return withheld(parts, "the response body failed mid-way");
    };
    let filtered = if is_json {
        filter::filter_json(&original, &|item: Listed<'_>| allow.allows(item))
    } else if filter::may_carry_list(&original) {
        Err(filter::Unreadable)
    } else {
        Ok(None)
    };
    let body = match filtered {
        Ok(None) => original,
        Ok(Some(body)) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            Bytes::from(body)
        }
        Err(filter::Unreadable) if is_json => return withheld(parts, "invalid JSON"),
        Err(filter::Unreadable) => {
            return withheld(parts, "an unknown media type that may carry a list")
        }
    };
    Response::from_parts(parts, ResponseBody::full(body))
}

/// The 502 that replaces a response that cannot be filtered.
fn withheld<B>(mut parts: http::response::Parts, why: &str) -> Response<ResponseBody<B>> {
    tracing::warn!(
        target: "authsec::filter",
        why,
        status = parts.status.as_u16(),
        "a response of the MCP server could not be read for list filtering; answered 502"
    );
    let mut resp = json_response(
        StatusCode::BAD_GATEWAY,
        filter::withheld_error().to_string(),
    );
    // Keep what is not about the body (the session id a client needs, for one).
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
    ] {
        parts.headers.remove(name);
    }
    for (name, value) in parts.headers.drain().filter_map(|(n, v)| n.map(|n| (n, v))) {
        resp.headers_mut().entry(name).or_insert(value);
    }
    resp
}

pin_project! {
    /// The response body of [`AuthSec`](super::AuthSec): the inner body, a rendered denial, or
    /// the inner SSE stream passing through the list filter.
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Full { data: Option<Bytes> },
        Sse { #[pin] body: B, filter: SseFilter, done: bool },
    }
}

impl<B> ResponseBody<B> {
    pub(super) fn inner(body: B) -> Self {
        ResponseBody {
            kind: Kind::Inner { body },
        }
    }
    pub(super) fn full(data: Bytes) -> Self {
        ResponseBody {
            kind: Kind::Full {
                data: (!data.is_empty()).then_some(data),
            },
        }
    }
    fn sse(body: B, filter: SseFilter) -> Self {
        ResponseBody {
            kind: Kind::Sse {
                body,
                filter,
                done: false,
            },
        }
    }
}

impl<B> Default for ResponseBody<B> {
    fn default() -> Self {
        ResponseBody::full(Bytes::new())
    }
}

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match &self.kind {
            Kind::Inner { .. } => "ResponseBody::Inner",
            Kind::Full { .. } => "ResponseBody::Full",
            Kind::Sse { .. } => "ResponseBody::Sse",
        })
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx).map_err(Into::into),
            KindProj::Full { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            KindProj::Sse {
                mut body,
                filter,
                done,
            } => loop {
                if *done {
                    return Poll::Ready(None);
                }
                match body.as_mut().poll_frame(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                        Ok(data) => {
                            let out = filter.push(&data);
                            if out.ended {
                                *done = true;
                                log_withheld_event();
                            }
                            if !out.bytes.is_empty() {
                                return Poll::Ready(Some(Ok(Frame::data(out.bytes))));
                            }
                        }
                        Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                    },
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
                    Poll::Ready(None) => {
                        *done = true;
                        let out = filter.finish();
                        if out.ended {
                            log_withheld_event();
                        }
                        if !out.bytes.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(out.bytes))));
                        }
                    }
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Full { data } => data.is_none(),
            Kind::Sse { done, .. } => *done,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            Kind::Sse { .. } => SizeHint::default(),
        }
    }
}

fn log_withheld_event() {
    tracing::warn!(
        target: "authsec::filter",
        "an event of the MCP server's stream could not be read for list filtering; the stream was ended"
    );
}

#[cfg(test)]
mod tests {
    use super::super::testing::{attempt_request, local_layer, principal_with};
    use super::*;
    use http::Method;
    use http_body_util::BodyExt;
    use serde_json::{json, Value};
    use std::convert::Infallible;

    const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    const TOOLS: &str =
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"},{"name":"admin"}]}}"#;

    /// An inner service answering `body` with `headers`.
    #[derive(Clone)]
    struct Answer {
        body: &'static str,
        headers: &'static [(&'static str, &'static str)],
    }

    impl Service<Request<RequestBody>> for Answer {
        type Response = Response<Full<Bytes>>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: Request<RequestBody>) -> Self::Future {
            assert!(req.extensions().get::<Principal>().is_some());
            let mut resp = Response::new(Full::new(Bytes::from_static(self.body.as_bytes())));
            for (name, value) in self.headers {
                resp.headers_mut().insert(*name, value.parse().unwrap());
            }
            std::future::ready(Ok(resp))
        }
    }

    async fn through(
        config: impl FnOnce(crate::config::ConfigBuilder) -> crate::config::ConfigBuilder,
        body: &'static str,
        headers: &'static [(&'static str, &'static str)],
    ) -> Response<ResponseBody<Full<Bytes>>> {
        let layer = local_layer(config);
        let mut req = attempt_request(&layer, Method::POST, LIST, &[]);
        req.body_mut().principal = Some(principal_with("alice", "demo:read"));
        FilterLayer
            .layer(Answer { body, headers })
            .call(req)
            .await
            .unwrap()
    }

    async fn json_of<B>(resp: Response<ResponseBody<B>>) -> Value
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_json_tools_list_keeps_only_the_tools_the_principal_may_call() {
        let resp = through(|b| b, TOOLS, &[("content-type", "application/json")]).await;
        assert_eq!(resp.status(), 200);
        let body = json_of(resp).await;
        assert_eq!(body["result"]["tools"], json!([{"name": "echo"}]));
        assert_eq!(body["result"]["cacheScope"], "private");
    }

    #[tokio::test]
    async fn without_filtering_the_response_passes_through() {
        let resp = through(
            |b| b.filter_tools_list(false),
            TOOLS,
            &[("content-type", "application/json")],
        )
        .await;
        let body = json_of(resp).await;
        assert_eq!(body["result"]["tools"].as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn an_event_stream_is_filtered_as_it_flows() {
        const EVENT: &str = "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"echo\"},{\"name\":\"admin\"}]}}\n\n";
        let resp = through(|b| b, EVENT, &[("content-type", "text/event-stream")]).await;
        assert_eq!(resp.status(), 200);
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.contains("\"echo\""), "{text}");
        assert!(!text.contains("\"admin\""), "{text}");
    }

    #[tokio::test]
    async fn a_compressed_response_is_withheld_keeping_the_session_id() {
        let resp = through(
            |b| b,
            TOOLS,
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
                ("mcp-session-id", "s-1"),
            ],
        )
        .await;
        assert_eq!(resp.status(), 502);
        assert_eq!(resp.headers()["mcp-session-id"], "s-1");
        assert!(resp.headers().get("content-encoding").is_none());
        assert_eq!(json_of(resp).await, filter::withheld_error());
    }

    #[tokio::test]
    async fn invalid_json_is_withheld() {
        let resp = through(
            |b| b,
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[",
            &[("content-type", "application/json")],
        )
        .await;
        assert_eq!(resp.status(), 502);
        assert_eq!(json_of(resp).await, filter::withheld_error());
    }

    #[tokio::test]
    async fn a_list_in_a_body_of_another_media_type_is_withheld() {
        let resp = through(|b| b, TOOLS, &[("content-type", "text/plain")]).await;
        assert_eq!(resp.status(), 502);
    }
}
