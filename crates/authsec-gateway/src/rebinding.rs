//! DNS rebinding protection: the `Origin` and `Host` checks the MCP transport asks of a server,
//! run on the MCP endpoint and its metadata document before anything else (token, session,
//! body).
//!
//! | request | answer |
//! |---|---|
//! | `Origin` present and not an allowed origin | 403, `reason` `origin_not_allowed` |
//! | `Host` (or the HTTP/2 authority) names a host that is not allowed | 403, `host_not_allowed` |
//! | neither `Host` nor an authority | 403, `host_missing` |
//! | otherwise | passed on |
//!
//! Allowed origins: the resource URI's origin and the CORS origins (`*` there allows any).
//! Allowed hosts: the resource URI's host, the address the gateway is bound to (and
//! `localhost` when that is a loopback address), and the configured extra hosts (`*` allows
//! any). Only the host name of `Host` is compared, not its port: a rebinding page controls the
//! name the browser sends, never the port it connects to, and a proxy in front may add or drop
//! a default port. A request without `Origin` (every non-browser client) is judged on `Host`
//! alone.
//!
//! The refusal is a JSON-RPC error response without `id`, as the MCP transport allows:
//! `{"jsonrpc":"2.0","error":{"code":-32000,"message":…,"data":{"reason":…}}}`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use http::header::{self, HeaderMap, HeaderValue};
use http::uri::Authority;
use http::{Request, Response, StatusCode, Uri};
use serde_json::json;
use url::Url;

/// Why a request was refused before it reached the protection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The `Origin` header names an origin that is not allowed (or is not an origin at all,
    /// e.g. `null`).
    OriginNotAllowed {
        /// The header as sent.
        origin: String,
    },
    /// The `Host` header (or the HTTP/2 `:authority`) names a host that is not allowed, or is
    /// not a host at all.
    HostNotAllowed {
        /// The header as sent.
        host: String,
    },
    /// The request names no host.
    HostMissing,
}

impl Refusal {
    /// The stable machine-readable reason, as in the response's `error.data.reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::OriginNotAllowed { .. } => "origin_not_allowed",
            Refusal::HostNotAllowed { .. } => "host_not_allowed",
            Refusal::HostMissing => "host_missing",
        }
    }

    /// A sentence for people.
    pub fn message(&self) -> String {
        match self {
            Refusal::OriginNotAllowed { origin } => format!("Origin {origin} is not allowed"),
            Refusal::HostNotAllowed { host } => format!("Host {host} is not allowed"),
            Refusal::HostMissing => "the request names no Host".to_owned(),
        }
    }

    /// 403 with a JSON-RPC error body without `id`.
    pub fn response(&self) -> Response<Body> {
        let body = json!({
            "jsonrpc": "2.0",
            "error": {"code": -32000, "message": self.message(), "data": {"reason": self.reason()}},
        });
        let mut resp = Response::new(Body::from(body.to_string()));
        *resp.status_mut() = StatusCode::FORBIDDEN;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }
}

/// Which `Origin` and `Host` values are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPolicy {
    /// ASCII-serialized origins; `None`: any.
    origins: Option<Vec<String>>,
    /// Lowercase host names (IPv6 in brackets); `None`: any.
    hosts: Option<Vec<String>>,
}

impl HostPolicy {
    /// The policy for a gateway whose public URL is `resource_uri`, bound to `bound`, with
    /// `cors` origins (as validated by [`crate::GatewayConfig::cors_allow_origins`]) and
    /// `extra_hosts` (as validated by [`crate::GatewayConfig::allowed_hosts`]).
    pub fn new(
        resource_uri: &str,
        bound: SocketAddr,
        cors: &[HeaderValue],
        extra_hosts: &[String],
    ) -> Self {
        let resource = Url::parse(resource_uri).ok();
        let origins = if cors.iter().any(|o| o == "*") {
            None
        } else {
            let mut origins: Vec<String> = cors
                .iter()
                .filter_map(|o| o.to_str().ok())
                .filter_map(canonical_origin)
                .collect();
            if let Some(url) = &resource {
                origins.push(url.origin().ascii_serialization());
            }
            Some(origins)
        };
        let hosts = if extra_hosts.iter().any(|h| h == "*") {
            None
        } else {
            let mut hosts: Vec<String> = extra_hosts.iter().map(|h| h.to_lowercase()).collect();
            if let Some(host) = resource.as_ref().and_then(Url::host_str) {
                hosts.push(host.to_lowercase());
            }
            if !bound.ip().is_unspecified() {
                hosts.push(match bound.ip() {
                    IpAddr::V4(ip) => ip.to_string(),
                    IpAddr::V6(ip) => format!("[{ip}]"),
                });
                if bound.ip().is_loopback() {
                    hosts.push("localhost".to_owned());
                }
            }
            Some(hosts)
        };
        HostPolicy { origins, hosts }
    }

    /// Checks a request's `Origin` (when present), then its host.
    pub fn check(&self, headers: &HeaderMap, uri: &Uri) -> Result<(), Refusal> {
        for origin in headers.get_all(header::ORIGIN) {
            let sent = String::from_utf8_lossy(origin.as_bytes()).into_owned();
            let allowed = match &self.origins {
                None => true,
                Some(list) => origin
                    .to_str()
                    .ok()
                    .and_then(canonical_origin)
                    .is_some_and(|o| list.contains(&o)),
            };
            if !allowed {
                return Err(Refusal::OriginNotAllowed { origin: sent });
            }
        }
        let mut hosts = headers.get_all(header::HOST).iter();
        let sent = match (hosts.next(), hosts.next()) {
            (Some(_), Some(_)) => {
                // Two Host headers (RFC 9112 §3.2: a 400); never guess which one counts.
                return Err(Refusal::HostNotAllowed {
                    host: "(several Host headers)".to_owned(),
                });
            }
            (Some(h), None) => String::from_utf8_lossy(h.as_bytes()).into_owned(),
            (None, _) => match uri.authority() {
                Some(a) => a.as_str().to_owned(),
                None => return Err(Refusal::HostMissing),
            },
        };
        let Some(list) = &self.hosts else {
            return Ok(());
        };
        let name = sent
            .parse::<Authority>()
            .ok()
            .filter(|a| !a.as_str().contains('@'))
            .map(|a| a.host().to_lowercase());
        match name {
            Some(name) if list.contains(&name) => Ok(()),
            _ => Err(Refusal::HostNotAllowed { host: sent }),
        }
    }
}

/// `scheme://host[:port]` as browsers serialize it (default port omitted, host lowercased),
/// or `None` for anything that is not a bare http(s) origin.
fn canonical_origin(origin: &str) -> Option<String> {
    let url = Url::parse(origin).ok()?;
    let bare = matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && !origin.ends_with('/');
    bare.then(|| url.origin().ascii_serialization())
}

/// Whether `host` can be an allowed-host entry: a host name or IP address without scheme,
/// port or path (IPv6 in brackets), or `*`.
pub(crate) fn valid_host_entry(host: &str) -> bool {
    if host == "*" {
        return true;
    }
    match host.parse::<Authority>() {
        Ok(a) => a.port().is_none() && a.as_str() == host && !host.contains('@'),
        Err(_) => false,
    }
}

/// The axum middleware: refuses with [`Refusal::response`], or runs the rest of the stack.
pub(crate) async fn guard(
    axum::extract::State(policy): axum::extract::State<Arc<HostPolicy>>,
    request: Request<Body>,
    next: axum::middleware::Next,
) -> Response<Body> {
    if let Err(refusal) = policy.check(request.headers(), request.uri()) {
        tracing::warn!(
            target: "authsec::gateway",
            reason = refusal.reason(),
            detail = %refusal.message(),
            "request refused before authorization (DNS rebinding protection)"
        );
        return refusal.response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(cors: &[&str], extra: &[&str]) -> HostPolicy {
        HostPolicy::new(
            "https://mcp.example.com/mcp",
            "127.0.0.1:8080".parse().unwrap(),
            &cors
                .iter()
                .map(|o| HeaderValue::from_str(o).unwrap())
                .collect::<Vec<_>>(),
            &extra.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
        )
    }

    fn check(p: &HostPolicy, headers: &[(&str, &str)]) -> Result<(), Refusal> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        p.check(&map, &Uri::from_static("/mcp"))
    }

    #[test]
    fn the_resource_host_the_bound_address_and_localhost_are_allowed_on_any_port() {
        let p = policy(&[], &[]);
        for host in [
            "mcp.example.com",
            "MCP.Example.com:443",
            "127.0.0.1:8080",
            "127.0.0.1:9",
            "localhost:8080",
        ] {
            assert_eq!(check(&p, &[("host", host)]), Ok(()), "{host}");
        }
    }

    #[test]
    fn another_host_is_refused_with_the_host_as_sent() {
        let p = policy(&[], &[]);
        for host in [
            "evil.example.com",
            "evil.example.com:8080",
            "mcp.example.com.evil.example",
            "user@mcp.example.com",
            "",
        ] {
            assert_eq!(
                check(&p, &[("host", host)]),
                Err(Refusal::HostNotAllowed {
                    host: host.to_owned()
                }),
                "{host}"
            );
        }
    }

    #[test]
    fn two_host_headers_or_none_are_refused() {
        let p = policy(&[], &[]);
        assert!(matches!(
            check(
                &p,
                &[("host", "mcp.example.com"), ("host", "mcp.example.com")]
            ),
            Err(Refusal::HostNotAllowed { .. })
        ));
        assert_eq!(check(&p, &[]), Err(Refusal::HostMissing));
    }

    #[test]
    fn an_http2_authority_stands_in_for_a_missing_host_header() {
        let p = policy(&[], &[]);
        let uri = Uri::from_static("https://mcp.example.com/mcp");
        assert_eq!(p.check(&HeaderMap::new(), &uri), Ok(()));
        let uri = Uri::from_static("https://evil.example.com/mcp");
        assert!(p.check(&HeaderMap::new(), &uri).is_err());
    }

    #[test]
    fn extra_hosts_are_allowed_and_a_star_allows_any() {
        let p = policy(&[], &["gw.internal", "[::1]"]);
        assert_eq!(check(&p, &[("host", "gw.internal:8080")]), Ok(()));
        assert_eq!(check(&p, &[("host", "[::1]:8080")]), Ok(()));
        let any = policy(&[], &["*"]);
        assert_eq!(check(&any, &[("host", "evil.example.com")]), Ok(()));
    }

    #[test]
    fn a_wildcard_bind_adds_no_host() {
        let p = HostPolicy::new(
            "https://mcp.example.com/mcp",
            "0.0.0.0:8080".parse().unwrap(),
            &[],
            &[],
        );
        assert_eq!(check(&p, &[("host", "mcp.example.com")]), Ok(()));
        for host in ["0.0.0.0:8080", "localhost:8080", "127.0.0.1:8080"] {
            assert!(check(&p, &[("host", host)]).is_err(), "{host}");
        }
    }

    #[test]
    fn the_resource_origin_and_the_cors_origins_are_allowed() {
        let p = policy(&["http://localhost:5173"], &[]);
        for origin in [
            "https://mcp.example.com",
            "https://mcp.example.com:443",
            "HTTPS://MCP.EXAMPLE.COM",
            "http://localhost:5173",
        ] {
            assert_eq!(
                check(&p, &[("host", "mcp.example.com"), ("origin", origin)]),
                Ok(()),
                "{origin}"
            );
        }
    }

    #[test]
    fn another_origin_is_refused_even_with_an_allowed_host() {
        let p = policy(&["http://localhost:5173"], &[]);
        for origin in [
            "http://mcp.example.com",
            "https://mcp.example.com:8443",
            "http://localhost:5174",
            "https://evil.example.com",
            "null",
            "https://mcp.example.com/path",
        ] {
            assert_eq!(
                check(&p, &[("host", "mcp.example.com"), ("origin", origin)]),
                Err(Refusal::OriginNotAllowed {
                    origin: origin.to_owned()
                }),
                "{origin}"
            );
        }
    }

    #[test]
    fn a_cors_star_allows_any_origin_but_not_any_host() {
        let p = policy(&["*"], &[]);
        assert_eq!(
            check(&p, &[("host", "mcp.example.com"), ("origin", "null")]),
            Ok(())
        );
        assert!(matches!(
            check(
                &p,
                &[
                    ("host", "evil.example.com"),
                    ("origin", "http://evil.example.com")
                ]
            ),
            Err(Refusal::HostNotAllowed { .. })
        ));
    }

    #[test]
    fn the_origin_is_checked_before_the_host() {
        let p = policy(&[], &[]);
        assert_eq!(
            check(
                &p,
                &[
                    ("host", "evil.example.com"),
                    ("origin", "http://evil.example.com")
                ]
            ),
            Err(Refusal::OriginNotAllowed {
                origin: "http://evil.example.com".to_owned()
            })
        );
    }

    #[test]
    fn allowed_host_entries_are_bare_host_names() {
        for ok in ["gw.internal", "10.0.0.7", "[::1]", "*"] {
            assert!(valid_host_entry(ok), "{ok}");
        }
        for bad in [
            "gw.internal:8080",
            "http://gw.internal",
            "gw.internal/mcp",
            "",
            "a@gw.internal",
        ] {
            assert!(!valid_host_entry(bad), "{bad}");
        }
    }
}
