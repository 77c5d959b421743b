//! axum integration (feature `axum`): [`mount_mcp`] and [`Principal`] as an extractor.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;

use super::{AuthSecLayer, BoxError, RequestBody};
use crate::metadata;
use crate::principal::Principal;

/// Mounts `service` at `path` behind the authsec layer, and the RFC 9728 protected resource
/// metadata at the well-known path derived from the configured resource URI
/// (`/.well-known/oauth-protected-resource/mcp` for `https://host/mcp`).
///
/// `layer` comes from [`AuthSecLayer::new`] or [`AuthSecLayer::start`], so it holds the console
/// policy client every remote policy mode needs.
pub fn mount_mcp<St, S, B>(
    router: axum::Router<St>,
    path: &str,
    service: S,
    layer: AuthSecLayer,
) -> axum::Router<St>
where
    St: Clone + Send + Sync + 'static,
    S: tower_service::Service<
            Request<RequestBody>,
            Response = Response<B>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let config = layer.config().clone();
    let resource_path = crate::uri::parse_absolute(&config.resource_uri)
        .map(|u| u.path().to_owned())
        .unwrap_or_default();
    if resource_path != path {
        tracing::warn!(
            target: "authsec::config",
            mounted = path,
            resource_uri = %config.resource_uri,
            "the MCP endpoint is mounted at a path other than the resource URI's; this is right \
             only behind a proxy that rewrites paths"
        );
    }
    let prm_path = metadata::well_known_path(&config.resource_uri);
    let metadata_route = {
        let layer = layer.clone();
        // `scopes_supported` follows the policy in force (the console's, live).
        axum::routing::get(move || {
            let layer = layer.clone();
            async move {
                let scopes = layer.scopes_supported().await;
                metadata::response::<axum::body::Body>(layer.config(), &scopes)
            }
        })
    };
    router
        .route(&prm_path, metadata_route)
        .route_service(path, tower_layer::Layer::layer(&layer, service))
}

/// The axum rejection when a handler asks for a [`Principal`] on a route the layer does not
/// protect: a server configuration error, answered with 500.
#[derive(Debug, Clone, Copy)]
pub struct MissingPrincipal;

impl axum::response::IntoResponse for MissingPrincipal {
    fn into_response(self) -> axum::response::Response {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "no authenticated principal: this route is not behind authsec's AuthSecLayer",
        )
            .into_response()
    }
}

impl<St: Send + Sync> axum::extract::FromRequestParts<St> for Principal {
    type Rejection = MissingPrincipal;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &St,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(MissingPrincipal)
    }
}

impl<St: Send + Sync> axum::extract::OptionalFromRequestParts<St> for Principal {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &St,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Principal>().cloned())
    }
}
