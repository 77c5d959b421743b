//! The fifth stage: [`Authorize`] decides every target of the body
//! ([`Inspection::targets`](crate::mcp::Inspection::targets): the tool of a `tools/call`, the
//! prompt of a `prompts/get`, the resource of a `resources/read` or `resources/subscribe`, each
//! resource a `subscriptions/listen` subscribes to) with the policy in force
//! ([`PolicyView`](crate::policy::PolicyView)). One denial denies the body whole:
//!
//! | condition | answer |
//! |---|---|
//! | a scope missing | 403 `insufficient_scope`, naming the target and the scopes |
//! | a target the policy does not map | 403 `tool_unmapped` / `prompt_unmapped` / `resource_unmapped` |
//! | the console's policy is incomplete | 403 `policy_incomplete` |
//! | `remote_required` without a usable console policy | 503 `policy_unavailable` |
//!
//! An allowed request's decision event is emitted here, before the inner service runs. A
//! request without a principal (the in-band lifecycle pass) has no target to decide.

use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::attempt::Attempt;
use super::filter::ResponseBody;
use super::reply::Reply;

/// Creates [`Authorize`] services.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AuthorizeLayer;

impl<S> Layer<S> for AuthorizeLayer {
    type Service = Authorize<S>;
    fn layer(&self, inner: S) -> Authorize<S> {
        Authorize { inner }
    }
}

/// Decides the request's targets with the policy in force; see the [module](self) table.
#[derive(Debug, Clone)]
pub struct Authorize<S> {
    inner: S,
}

impl<S, B> Service<Request<Attempt>> for Authorize<S>
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
        if let (Some(principal), Some(inspection)) = (&attempt.principal, attempt.inspected()) {
            let policy = attempt.policy();
            for (kind, name) in inspection.targets() {
                if let Err(e) = policy.decide_target(principal.scopes(), kind, name) {
                    return Reply::denied(attempt.deny(e));
                }
            }
        }
        attempt.emit(Ok(()));
        Reply::next(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{attempt_request, body_json, local_layer, principal_with, Capture};
    use super::*;
    use http::Method;
    use serde_json::json;

    fn call(tool: &str) -> String {
        format!(r#"{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{{"name":"{tool}"}}}}"#)
    }

    fn request(body: &str, scopes: &str) -> Request<Attempt> {
        let layer = local_layer(|b| b);
        let mut req = attempt_request(&layer, Method::POST, body, &[]);
        req.body_mut().principal = Some(principal_with("alice", scopes));
        req
    }

    #[tokio::test]
    async fn a_tool_the_principal_holds_the_scope_for_goes_on() {
        let capture = Capture::default();
        let req = request(&call("echo"), "demo:read");
        let resp = AuthorizeLayer
            .layer(capture.clone())
            .call(req)
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(capture.called());
    }

    #[tokio::test]
    async fn a_missing_scope_is_403_insufficient_scope_naming_the_tool() {
        let capture = Capture::default();
        let req = request(&call("echo"), "other:scope");
        let resp = AuthorizeLayer
            .layer(capture.clone())
            .call(req)
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
        assert_eq!(
            resp.headers()["www-authenticate"],
            "Bearer error=\"insufficient_scope\", error_description=\"tool echo requires more \
             scope\", scope=\"demo:read other:scope\", resource_metadata=\"https://mcp.example.com/\
             .well-known/oauth-protected-resource/mcp\""
        );
        let body = body_json(resp).await;
        assert_eq!(body["error"], "insufficient_scope");
        assert_eq!(body["tool"], "echo");
        assert_eq!(body["required_scopes"], json!(["demo:read"]));
        assert_eq!(body["granted_scopes"], json!(["other:scope"]));
        assert!(!capture.called());
    }

    #[tokio::test]
    async fn an_unmapped_tool_is_403_tool_unmapped() {
        let capture = Capture::default();
        let req = request(&call("nope"), "demo:read");
        let resp = AuthorizeLayer
            .layer(capture.clone())
            .call(req)
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
        let body = body_json(resp).await;
        assert_eq!(body["reason"], "tool_unmapped");
        assert_eq!(body["tool"], "nope");
        assert!(!capture.called());
    }

    #[tokio::test]
    async fn one_denied_call_in_a_batch_denies_the_batch() {
        let capture = Capture::default();
        let batch = format!("[{},{}]", call("echo"), call("nope"));
        let resp = AuthorizeLayer
            .layer(capture.clone())
            .call(request(&batch, "demo:read"))
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
        assert_eq!(body_json(resp).await["tool"], "nope");
        assert!(!capture.called());
    }

    #[tokio::test]
    async fn a_request_without_a_principal_is_not_decided() {
        let layer = local_layer(|b| b);
        let capture = Capture::default();
        let req = attempt_request(&layer, Method::POST, &call("nope"), &[]);
        let resp = AuthorizeLayer
            .layer(capture.clone())
            .call(req)
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(capture.called());
    }
}
