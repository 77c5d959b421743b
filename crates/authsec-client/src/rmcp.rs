//! An rmcp Streamable HTTP client that authorizes itself: wrap any
//! [`StreamableHttpClient`] (reqwest's by default) and every request gets a token from an
//! [`Access`], a 401 gets discovery and a token, a 403 `insufficient_scope` a step-up.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use authsec_client::rmcp::AuthsecHttpClient;
//! use authsec_client::{Access, ClientAuth, ClientCredentials, Secret};
//! use rmcp::transport::streamable_http_client::{
//!     StreamableHttpClientTransport, StreamableHttpClientTransportConfig,
//! };
//! use rmcp::ServiceExt;
//!
//! let url = "https://notes.example/mcp";
//! let access = Access::for_resource(url)?
//!     .client_credentials(ClientCredentials::new("agent-7", ClientAuth::Secret(Secret::new("…"))))
//!     .build()?;
//! let transport = StreamableHttpClientTransport::with_client(
//!     AuthsecHttpClient::new(reqwest::Client::new(), access),
//!     StreamableHttpClientTransportConfig::with_uri(url),
//! );
//! let client = ().serve(transport).await?;
//! let tools = client.list_all_tools().await?;
//! # let _ = tools; Ok(()) }
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use authsec::explain::McpAuthError;
use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::service::ClientInitializeError;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use rmcp::transport::worker::WorkerQuitReason;
use rmcp::transport::DynamicTransportError;
use sse_stream::Sse;

use crate::access::{Access, Attempt, RunError};
use crate::error::Error;

/// The error of an [`AuthsecHttpClient`]: the wrapped client's, or why no acceptable token
/// could be had (a typed [`Error`], e.g. [`Error::StepUpLimit`]).
#[derive(Debug, thiserror::Error)]
pub enum AuthsecTransportError<E: std::error::Error> {
    /// The wrapped HTTP client failed.
    #[error(transparent)]
    Http(E),
    /// Authorization failed.
    #[error(transparent)]
    Auth(Error),
}

/// An rmcp [`StreamableHttpClient`] that gets tokens from an [`Access`].
#[derive(Clone, Debug)]
pub struct AuthsecHttpClient<C> {
    inner: C,
    access: Access,
}

impl<C> AuthsecHttpClient<C> {
    /// Wraps `inner`; tokens come from `access`.
    pub fn new(inner: C, access: Access) -> Self {
        AuthsecHttpClient { inner, access }
    }

    /// The [`Access`] in use.
    pub fn access(&self) -> &Access {
        &self.access
    }
}

/// The authsec [`Error`] behind an rmcp error (a `ServiceError` from a call, or a
/// `ClientInitializeError` from `serve`), if that is why it failed: walks the `source()` chain
/// and the wrappers rmcp does not name as sources, down to the transport error of an
/// [`AuthsecHttpClient`] over `reqwest::Client`.
pub fn auth_error<'a>(mut e: &'a (dyn std::error::Error + 'static)) -> Option<&'a Error> {
    type Http = StreamableHttpError<AuthsecTransportError<reqwest::Error>>;
    loop {
        if let Some(found) = e.downcast_ref::<Error>() {
            return Some(found);
        }
        if let Some(StreamableHttpError::Client(AuthsecTransportError::Auth(found))) =
            e.downcast_ref::<Http>()
        {
            return Some(found);
        }
        let unnamed: Option<&(dyn std::error::Error + 'static)> =
            if let Some(WorkerQuitReason::Fatal { error, .. }) =
                e.downcast_ref::<WorkerQuitReason<Http>>()
            {
                Some(error)
            } else if let Some(d) = e.downcast_ref::<DynamicTransportError>() {
                Some(d.error.as_ref())
            } else if let Some(ClientInitializeError::TransportError { error, .. }) =
                e.downcast_ref::<ClientInitializeError>()
            {
                Some(error)
            } else {
                None
            };
        e = match unnamed {
            Some(inner) => inner,
            None => e.source()?,
        };
    }
}

fn denial(status: u16, www_authenticate: &str) -> McpAuthError {
    // A header the parser cannot read still says "denied" by its status.
    authsec::explain::parse(Some(status), Some(www_authenticate), None).unwrap_or(McpAuthError {
        status: Some(status),
        ..McpAuthError::default()
    })
}

/// Maps the wrapped client's error into ours, keeping every variant rmcp reacts to
/// (session expiry, SSE support, …).
fn lift<E: std::error::Error + Send + Sync + 'static>(
    e: StreamableHttpError<E>,
) -> StreamableHttpError<AuthsecTransportError<E>> {
    use StreamableHttpError as S;
    match e {
        S::Sse(e) => S::Sse(e),
        S::Io(e) => S::Io(e),
        S::Client(e) => S::Client(AuthsecTransportError::Http(e)),
        S::HttpStatus(e) => S::HttpStatus(e),
        S::UnexpectedEndOfStream => S::UnexpectedEndOfStream,
        S::UnexpectedServerResponse(e) => S::UnexpectedServerResponse(e),
        S::ResponseBodyTooLarge { max_size } => S::ResponseBodyTooLarge { max_size },
        S::UnexpectedContentType(e) => S::UnexpectedContentType(e),
        S::ServerDoesNotSupportSse => S::ServerDoesNotSupportSse,
        S::ServerDoesNotSupportDeleteSession => S::ServerDoesNotSupportDeleteSession,
        S::TokioJoinError(e) => S::TokioJoinError(e),
        S::Deserialize(e) => S::Deserialize(e),
        S::TransportChannelClosed => S::TransportChannelClosed,
        S::MissingSessionIdInResponse => S::MissingSessionIdInResponse,
        S::AuthRequired(e) => S::AuthRequired(e),
        S::InsufficientScope(e) => S::InsufficientScope(e),
        S::ReservedHeaderConflict(e) => S::ReservedHeaderConflict(e),
        S::SessionExpired => S::SessionExpired,
        S::SessionRecoveryTimeout => S::SessionRecoveryTimeout,
        S::ReinitializationFailed(e) => S::ReinitializationFailed(e),
        S::ControlRequestTimeout => S::ControlRequestTimeout,
        other => S::UnexpectedServerResponse(other.to_string().into()),
    }
}

impl<C> AuthsecHttpClient<C>
where
    C: StreamableHttpClient + Send + Sync,
{
    /// Runs `call` through [`Access::run`]: challenges become denials, denials become tokens.
    async fn authorized<T, F, Fut>(
        &self,
        call: F,
    ) -> Result<T, StreamableHttpError<AuthsecTransportError<C::Error>>>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: Future<Output = Result<T, StreamableHttpError<C::Error>>>,
    {
        let result = self
            .access
            .run(|token| {
                let fut = call(token.map(|t| t.secret().to_owned()));
                async move {
                    match fut.await {
                        Ok(v) => Ok(Attempt::Done(v)),
                        Err(StreamableHttpError::AuthRequired(e)) => Ok(Attempt::Denied(Box::new(
                            denial(401, &e.www_authenticate_header),
                        ))),
                        Err(StreamableHttpError::InsufficientScope(e)) => Ok(Attempt::Denied(
                            Box::new(denial(403, &e.www_authenticate_header)),
                        )),
                        Err(e) => Err(e),
                    }
                }
            })
            .await;
        match result {
            Ok(v) => Ok(v),
            Err(RunError::Transport(e)) => Err(lift(e)),
            Err(RunError::Auth(e)) => {
                Err(StreamableHttpError::Client(AuthsecTransportError::Auth(e)))
            }
        }
    }
}

impl<C> StreamableHttpClient for AuthsecHttpClient<C>
where
    C: StreamableHttpClient + Send + Sync,
{
    type Error = AuthsecTransportError<C::Error>;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        self.authorized(|token| {
            self.inner.post_message(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        self.authorized(|token| {
            self.inner.post_message_with_max_sse_event_size(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
                max_sse_event_size,
            )
        })
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        self.authorized(|token| {
            self.inner.post_message_with_response_limits(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
                limits,
            )
        })
        .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<Self::Error>> {
        self.authorized(|token| {
            self.inner.delete_session(
                uri.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<Self::Error>> {
        self.authorized(|token| {
            self.inner.get_stream(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<Self::Error>> {
        self.authorized(|token| {
            self.inner.get_stream_with_max_sse_event_size(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                token,
                custom_headers.clone(),
                max_sse_event_size,
            )
        })
        .await
    }
}
