//! The SDK's one HTTP client: JWKS and metadata (`GET`), introspection (`POST` form) and the
//! console (`GET`, long polls, `PUT` JSON).
//!
//! hyper-util's pooled HTTP/1.1 client over rustls (the aws-lc-rs provider, which also
//! verifies token signatures), trusting the operating system's root certificates
//! (`SSL_CERT_FILE` / `SSL_CERT_DIR` override them, as for OpenSSL). Every client has:
//!
//! * a 10 s timeout for the whole exchange, body included; a request may set its own (the
//!   console's long polls, the introspection timeout);
//! * 5 s to connect;
//! * no redirects: a 3xx is an answer like any other non-2xx;
//! * `User-Agent: authsec/<version>`;
//! * the proxies of the environment, read once when the client is built: `HTTPS_PROXY` for
//!   `https` URLs, `HTTP_PROXY` for `http`, `ALL_PROXY` for both, `NO_PROXY` for the hosts that
//!   bypass them (the lower-case names too; `HTTP_PROXY` is ignored when `REQUEST_METHOD` is
//!   set, as under CGI). The proxy itself is reached over plain `http://`, with the
//!   `user:password@` of its URL as Basic credentials; `https` destinations go through a
//!   `CONNECT` tunnel.
//!
//! A client fails to build only when TLS cannot start (no root certificate could be loaded):
//! the SDK then refuses to start rather than run without these settings.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let http = authsec::fetch::HttpClient::new()?;
//! let uri = "https://auth.example.com/.well-known/jwks.json".parse()?;
//! let response = http.get(uri).send().await?;
//! let body = response.bytes(64 * 1024).await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{
    HeaderName, HeaderValue, ACCEPT, CONTENT_LENGTH, PROXY_AUTHORIZATION, USER_AGENT,
};
use http::uri::Scheme;
use http::{HeaderMap, Method, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::legacy::Client;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tower_service::Service;

/// The whole exchange, unless a request sets its own.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Connecting (TCP, to the server or the proxy).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Idle pooled connections are closed after this long.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

const USER_AGENT_VALUE: &str = concat!("authsec/", env!("CARGO_PKG_VERSION"));

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why the HTTP client cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientStartError {
    /// The system's trust store yielded no root certificate.
    #[error(
        "no root certificate could be loaded from the system's trust store{}; install the CA \
         certificates (e.g. the ca-certificates package) or point SSL_CERT_FILE at a PEM bundle",
        if errors.is_empty() { String::new() } else { format!(" ({})", errors.join("; ")) }
    )]
    NoRootCertificates {
        /// What went wrong reading the store.
        errors: Vec<String>,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Tls(String),
}

/// Why a request got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// No complete answer within the timeout (connecting included).
    #[error("no answer within {}", humanize(*.0))]
    Timeout(Duration),
    /// Connecting, TLS, the proxy or the HTTP exchange failed: the error and its causes.
    #[error("{0}")]
    Transport(String),
    /// The body is larger than the caller accepts.
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
}

impl FetchError {
    /// True for [`FetchError::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, FetchError::Timeout(_))
    }
}

fn humanize(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{d:?}")
    }
}

/// The SDK's HTTP client (see the module docs). Cheap to clone: clones share the connection
/// pool.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<Connector, Full<Bytes>>,
    proxy: Arc<Matcher>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client with the settings of the module docs and the environment's proxies.
    pub fn new() -> Result<Self, ClientStartError> {
        Self::with_proxy(Matcher::from_env())
    }

    /// A client that sends through the proxies `proxy` names (instead of the environment's).
    pub(crate) fn with_proxy(proxy: Matcher) -> Result<Self, ClientStartError> {
        Ok(Self::build(proxy, tls_config()?))
    }

    fn build(proxy: Matcher, tls: Arc<rustls::ClientConfig>) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        http.set_nodelay(true);
        let proxy = Arc::new(proxy);
        let connector = Connector {
            http,
            tls: TlsConnector::from(tls),
            proxy: Arc::clone(&proxy),
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(connector);
        HttpClient { client, proxy }
    }

    /// A `GET` of `uri`.
    pub fn get(&self, uri: Uri) -> RequestBuilder<'_> {
        self.request(Method::GET, uri)
    }

    /// A `POST` to `uri`.
    pub fn post(&self, uri: Uri) -> RequestBuilder<'_> {
        self.request(Method::POST, uri)
    }

    /// A `PUT` to `uri`.
    pub fn put(&self, uri: Uri) -> RequestBuilder<'_> {
        self.request(Method::PUT, uri)
    }

    /// A request with any method.
    pub fn request(&self, method: Method, uri: Uri) -> RequestBuilder<'_> {
        RequestBuilder {
            client: self,
            method,
            uri,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            timeout: TIMEOUT,
        }
    }
}

/// One request being built; [`RequestBuilder::send`] sends it.
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder<'a> {
    client: &'a HttpClient,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    timeout: Duration,
}

impl RequestBuilder<'_> {
    /// Sets a header (replacing one of the same name).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the timeout of the whole exchange, reading the body included ([`TIMEOUT`] unless
    /// set).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends the request and waits for the status and headers; read the body with
    /// [`Response::bytes`] before the same deadline.
    pub async fn send(self) -> Result<Response, FetchError> {
        let deadline = Instant::now() + self.timeout;
        let mut request = http::Request::new(Full::new(self.body));
        *request.method_mut() = self.method;
        *request.headers_mut() = self.headers;
        let headers = request.headers_mut();
        headers
            .entry(USER_AGENT)
            .or_insert(HeaderValue::from_static(USER_AGENT_VALUE));
        headers
            .entry(ACCEPT)
            .or_insert(HeaderValue::from_static("*/*"));
        if self.uri.scheme() == Some(&Scheme::HTTP) {
            // A plain-http request through a proxy goes to the proxy in absolute form, with
            // the proxy's credentials (an https one tunnels; the tunnel carries them).
            if let Some(auth) = self
                .client
                .proxy
                .intercept(&self.uri)
                .and_then(|p| p.basic_auth().cloned())
            {
                headers.insert(PROXY_AUTHORIZATION, auth);
            }
        }
        *request.uri_mut() = self.uri;
        let answer = tokio::time::timeout_at(deadline, self.client.client.request(request)).await;
        match answer {
            Err(_) => Err(FetchError::Timeout(self.timeout)),
            Ok(Err(e)) if caused_by_timeout(&e) => Err(FetchError::Timeout(self.timeout)),
            Ok(Err(e)) => Err(FetchError::Transport(error_chain(&e))),
            Ok(Ok(response)) => Ok(Response {
                inner: response,
                deadline,
                timeout: self.timeout,
            }),
        }
    }
}

/// An answer whose body has not been read yet.
#[derive(Debug)]
pub struct Response {
    inner: http::Response<Incoming>,
    deadline: Instant,
    timeout: Duration,
}

impl Response {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.inner.status()
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// Reads the body, refusing one larger than `limit` bytes (by its `Content-Length` before
    /// reading, else as it arrives), within the request's deadline.
    pub async fn bytes(self, limit: usize) -> Result<Bytes, FetchError> {
        let declared = self
            .inner
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(FetchError::TooLarge(limit));
        }
        let mut body = self.inner.into_body();
        let read = async move {
            let mut buf = BytesMut::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| FetchError::Transport(error_chain(&e)))?;
                if let Ok(data) = frame.into_data() {
                    if buf.len() + data.len() > limit {
                        return Err(FetchError::TooLarge(limit));
                    }
                    buf.extend_from_slice(&data);
                }
            }
            Ok(buf.freeze())
        };
        tokio::time::timeout_at(self.deadline, read)
            .await
            .unwrap_or(Err(FetchError::Timeout(self.timeout)))
    }
}

/// An error and its causes, `: `-separated (hyper's own message names only the outermost).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// A connect timeout surfaces as an I/O `TimedOut` somewhere in the causes.
fn caused_by_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(s) = source {
        if s.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::TimedOut)
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// The TLS settings, built once per process: loading the system's roots reads and parses
/// every certificate in the store.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, ClientStartError> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, ClientStartError>> = OnceLock::new();
    CONFIG.get_or_init(build_tls_config).clone()
}

fn build_tls_config() -> Result<Arc<rustls::ClientConfig>, ClientStartError> {
    let native = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    if ignored > 0 {
        tracing::debug!(target: "authsec::http_client", ignored, "root certificates in the system store that do not parse were ignored");
    }
    if added == 0 {
        return Err(ClientStartError::NoRootCertificates {
            errors: native.errors.iter().map(ToString::to_string).collect(),
        });
    }
    client_config(roots)
}

/// TLS 1.2 and 1.3 with the aws-lc-rs provider, server certificates checked against `roots`,
/// HTTP/1.1 by ALPN.
fn client_config(
    roots: rustls::RootCertStore,
) -> Result<Arc<rustls::ClientConfig>, ClientStartError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientStartError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Opens connections: direct, through an HTTP proxy, or through a `CONNECT` tunnel; TLS for
/// `https` destinations.
#[derive(Clone)]
struct Connector {
    http: HttpConnector,
    tls: TlsConnector,
    proxy: Arc<Matcher>,
}

impl Service<Uri> for Connector {
    type Response = Stream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // The HTTP connector is always ready; each call clones it.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        Box::pin(self.clone().connect(dst))
    }
}

impl Connector {
    async fn connect(mut self, dst: Uri) -> Result<Stream, BoxError> {
        let https = dst.scheme() == Some(&Scheme::HTTPS);
        let Some(proxy) = self.proxy.intercept(&dst) else {
            let tcp = self.http.call(dst.clone()).await?;
            return if https {
                self.tls(&dst, tcp).await
            } else {
                Ok(Stream::Plain {
                    io: tcp,
                    proxied: false,
                })
            };
        };
        if proxy.uri().scheme() != Some(&Scheme::HTTP) {
            return Err(format!(
                "proxy {}://{}: only http:// proxies are supported",
                proxy.uri().scheme_str().unwrap_or_default(),
                proxy.uri().authority().map_or("", |a| a.as_str()),
            )
            .into());
        }
        if https {
            let mut tunnel = Tunnel::new(proxy.uri().clone(), self.http.clone());
            if let Some(auth) = proxy.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            let tcp = tunnel.call(dst.clone()).await?;
            self.tls(&dst, tcp).await
        } else {
            let tcp = self.http.call(proxy.uri().clone()).await?;
            Ok(Stream::Plain {
                io: tcp,
                proxied: true,
            })
        }
    }

    async fn tls(&self, dst: &Uri, tcp: TokioIo<TcpStream>) -> Result<Stream, BoxError> {
        let host = dst.host().unwrap_or_default();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())?;
        let tls = self.tls.connect(name, tcp.into_inner()).await?;
        Ok(Stream::Tls(Box::new(TokioIo::new(tls))))
    }
}

/// A connection: plain TCP (to the server, or to an HTTP proxy) or TLS.
enum Stream {
    Plain {
        io: TokioIo<TcpStream>,
        /// Connected to an HTTP proxy: requests go in absolute form.
        proxied: bool,
    },
    /// Boxed: a TLS session is a kilobyte, a TCP stream a few words.
    Tls(Box<TokioIo<TlsStream<TcpStream>>>),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        match self {
            Stream::Plain { io, proxied } => io.connected().proxy(*proxied),
            Stream::Tls(io) => io.inner().get_ref().0.connected(),
        }
    }
}

impl Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain { io, .. } => Pin::new(io).poll_read(cx, buf),
            Stream::Tls(io) => Pin::new(&mut **io).poll_read(cx, buf),
        }
    }
}

impl Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain { io, .. } => Pin::new(io).poll_write(cx, buf),
            Stream::Tls(io) => Pin::new(&mut **io).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain { io, .. } => Pin::new(io).poll_flush(cx),
            Stream::Tls(io) => Pin::new(&mut **io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain { io, .. } => Pin::new(io).poll_shutdown(cx),
            Stream::Tls(io) => Pin::new(&mut **io).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;

    use super::*;

    /// A one-connection server: reads the request head, answers `response` (or, with `None`,
    /// holds the connection open without a word), returns the head it read (lower case) and
    /// the connection, still open.
    async fn server(
        response: Option<&'static [u8]>,
    ) -> (SocketAddr, JoinHandle<(String, TcpStream)>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            match response {
                Some(r) => socket.write_all(r).await.unwrap(),
                None => tokio::time::sleep(Duration::from_secs(30)).await,
            }
            (
                String::from_utf8(head).unwrap().to_ascii_lowercase(),
                socket,
            )
        });
        (addr, task)
    }

    fn direct() -> HttpClient {
        HttpClient::with_proxy(Matcher::builder().build()).unwrap()
    }

    fn uri(s: String) -> Uri {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn a_redirect_is_an_answer_and_is_not_followed() {
        let (addr, head) = server(Some(
            b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/x\r\nContent-Length: 0\r\n\r\n",
        ))
        .await;
        let response = direct()
            .get(uri(format!("http://{addr}/jwks")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
        let head = head.await.unwrap().0;
        assert!(head.starts_with("get /jwks http/1.1\r\n"), "{head}");
        assert!(
            head.contains(&format!(
                "user-agent: authsec/{}\r\n",
                env!("CARGO_PKG_VERSION")
            )),
            "{head}"
        );
        assert!(head.contains("accept: */*\r\n"), "{head}");
    }

    #[tokio::test]
    async fn no_answer_within_the_request_timeout_is_a_timeout() {
        let (addr, _head) = server(None).await;
        let err = direct()
            .get(uri(format!("http://{addr}/")))
            .timeout(Duration::from_millis(200))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err, FetchError::Timeout(Duration::from_millis(200)));
        assert_eq!(err.to_string(), "no answer within 200ms");
    }

    #[tokio::test]
    async fn the_timeout_covers_reading_the_body() {
        let (addr, _head) = server(Some(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}")).await;
        let response = direct()
            .get(uri(format!("http://{addr}/")))
            .timeout(Duration::from_millis(300))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.bytes(1024).await,
            Err(FetchError::Timeout(Duration::from_millis(300)))
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_by_its_length_or_as_it_arrives() {
        let (addr, _head) = server(Some(
            b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n0123456789a",
        ))
        .await;
        let response = direct()
            .get(uri(format!("http://{addr}/")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.bytes(10).await, Err(FetchError::TooLarge(10)));

        let (addr, _head) = server(Some(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n6789a\r\n0\r\n\r\n",
        ))
        .await;
        let response = direct()
            .get(uri(format!("http://{addr}/")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.bytes(10).await, Err(FetchError::TooLarge(10)));

        let (addr, _head) = server(Some(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
        ))
        .await;
        let response = direct()
            .get(uri(format!("http://{addr}/")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.bytes(10).await.unwrap(), "0123456789");
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_transport_error_naming_the_cause() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = direct()
            .get(uri(format!("http://{addr}/")))
            .send()
            .await
            .unwrap_err();
        let FetchError::Transport(detail) = err else {
            panic!("{err:?}");
        };
        assert!(detail.contains("tcp connect error"), "{detail}");
    }

    #[tokio::test]
    async fn plain_http_goes_to_the_proxy_in_absolute_form_with_its_credentials() {
        let (proxy, head) = server(Some(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")).await;
        let client = HttpClient::with_proxy(
            Matcher::builder()
                .http(format!("http://user:pw@{proxy}"))
                .build(),
        )
        .unwrap();
        let response = client
            .get(uri("http://as.example.invalid/jwks".into()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.bytes(10).await.unwrap(), "ok");
        let head = head.await.unwrap().0;
        assert!(
            head.starts_with("get http://as.example.invalid/jwks http/1.1\r\n"),
            "{head}"
        );
        // base64("user:pw")
        assert!(
            head.contains("proxy-authorization: basic dxnlcjpwdw==\r\n"),
            "{head}"
        );
    }

    #[tokio::test]
    async fn https_goes_through_a_connect_tunnel() {
        let (proxy, head) = server(Some(b"HTTP/1.1 403 Forbidden\r\n\r\n")).await;
        let client = HttpClient::with_proxy(
            Matcher::builder()
                .https(format!("http://user:pw@{proxy}"))
                .build(),
        )
        .unwrap();
        let err = client
            .get(uri("https://as.example.invalid/jwks".into()))
            .send()
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Transport(_)), "{err:?}");
        let head = head.await.unwrap().0;
        assert!(
            head.starts_with("connect as.example.invalid:443 http/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.contains("proxy-authorization: basic dxnlcjpwdw==\r\n"),
            "{head}"
        );
    }

    const CA: &[u8] = include_bytes!("../tests/fixtures/loopback-tls/ca.der");
    const LOCALHOST: &[u8] = include_bytes!("../tests/fixtures/loopback-tls/localhost.der");
    const LOCALHOST_KEY: &[u8] = include_bytes!("../tests/fixtures/loopback-tls/localhost.key.der");

    /// A one-connection HTTPS server with the `localhost` test certificate; answers `response`.
    async fn tls_server(response: &'static [u8]) -> SocketAddr {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(LOCALHOST)],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(LOCALHOST_KEY)),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            // A client that refuses the certificate ends the handshake: nothing to answer.
            let Ok(mut tls) = acceptor.accept(socket).await else {
                return;
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tls.write_all(response).await;
            let _ = tls.flush().await;
        });
        addr
    }

    #[tokio::test]
    async fn https_is_verified_against_the_trusted_roots() {
        let addr = tls_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").await;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CA.into()).unwrap();
        let client = HttpClient::build(Matcher::builder().build(), client_config(roots).unwrap());
        let response = client
            .get(uri(format!("https://localhost:{}/jwks", addr.port())))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.bytes(10).await.unwrap(), "{}");
    }

    #[tokio::test]
    async fn a_certificate_from_an_untrusted_issuer_is_refused() {
        let addr = tls_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").await;
        // The system's roots: the test CA is not among them.
        let err = direct()
            .get(uri(format!("https://localhost:{}/jwks", addr.port())))
            .send()
            .await
            .unwrap_err();
        let FetchError::Transport(detail) = err else {
            panic!("{err:?}");
        };
        assert!(detail.contains("UnknownIssuer"), "{detail}");
    }

    #[tokio::test]
    async fn no_proxy_hosts_are_reached_directly() {
        let (addr, head) = server(Some(b"HTTP/1.1 204 No Content\r\n\r\n")).await;
        let client = HttpClient::with_proxy(
            Matcher::builder()
                .http("http://127.0.0.1:9")
                .no("127.0.0.1")
                .build(),
        )
        .unwrap();
        let response = client
            .get(uri(format!("http://{addr}/x")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert!(head.await.unwrap().0.starts_with("get /x http/1.1\r\n"));
    }
}
