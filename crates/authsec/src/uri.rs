//! Absolute `http(s)` URLs as [`http::Uri`]: the parsing configuration needs, the origin, loopback
//! hosts, and the endpoint URLs built from a base (the console's, the well-known paths).
//!
//! `http::Uri` does not normalise: a host keeps its case (compare with [`host`]), a path its
//! dot segments and escapes. Hosts must be ASCII (give an internationalised name in its
//! `xn--` form).

use std::net::IpAddr;

use http::Uri;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

/// Why a string is not an absolute URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// No `scheme://` in front (`mcp.example.com/mcp`).
    #[error("relative URL without a base")]
    Relative,
    /// Not a URI at all (a space, a non-ASCII character, a malformed authority).
    #[error("{0}")]
    Invalid(String),
    /// `scheme://` followed by no host (`https:///x`, `https://:443`).
    #[error("empty host")]
    EmptyHost,
    /// A port that is not a number from 0 to 65535.
    #[error("invalid port number")]
    InvalidPort,
}

/// Parses an absolute URL: a scheme, `://`, a non-empty host, a valid port if any. A
/// `#fragment` is not part of the result (it is never sent).
pub fn parse_absolute(value: &str) -> Result<Uri, UriError> {
    let Some((scheme, _)) = value.split_once("://") else {
        return Err(UriError::Relative);
    };
    if !is_scheme(scheme) {
        return Err(UriError::Relative);
    }
    let uri: Uri = value
        .parse()
        .map_err(|e: http::uri::InvalidUri| UriError::Invalid(e.to_string()))?;
    let authority = uri.authority().ok_or(UriError::EmptyHost)?;
    if authority.host().is_empty() {
        return Err(UriError::EmptyHost);
    }
    // `http` accepts any digits after the colon; a port must fit in 16 bits.
    let has_port = authority
        .as_str()
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.contains(']'));
    if has_port && authority.port_u16().is_none() {
        return Err(UriError::InvalidPort);
    }
    Ok(uri)
}

/// `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986 §3.1).
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// True when `s` starts with a URI scheme and `:` (`https://…`, `urn:…`, `api://…`): an absolute
/// URI of any scheme, as opposed to a bare name such as an OAuth client id.
#[cfg(feature = "diagnose")]
pub fn has_scheme(s: &str) -> bool {
    s.split_once(':')
        .is_some_and(|(scheme, _)| is_scheme(scheme))
}

/// The host in lower case, IPv6 addresses without brackets.
pub fn host(uri: &Uri) -> Option<String> {
    let host = uri.host()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Some(host.to_ascii_lowercase())
}

/// `scheme://host[:port]`, lower case, without the scheme's default port: the origin's ASCII
/// serialisation (RFC 6454 §6.2).
pub fn origin(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    };
    match uri.port_u16() {
        Some(port) if Some(port) != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    }
}

/// True for loopback hosts, where plain `http` is acceptable: `localhost` and `*.localhost`,
/// `127.0.0.0/8`, `::1`.
pub fn is_loopback(uri: &Uri) -> bool {
    let Some(host) = host(uri) else {
        return false;
    };
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host == "localhost" || host.ends_with(".localhost"),
    }
}

#[cfg_attr(not(feature = "remote-policy"), allow(dead_code))]
/// What a path segment escapes: controls, space, `"#%/<>?`{}` (the WHATWG path-segment set).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

#[cfg_attr(not(feature = "remote-policy"), allow(dead_code))]
/// `base` with `segments` appended to its path, each percent-encoded as one segment; a trailing
/// empty segment of `base` (`https://h/console/`) is dropped first. The query is kept.
pub fn join_segments(base: &Uri, segments: &[&str]) -> Result<Uri, UriError> {
    let path = base.path();
    let mut joined = path.strip_suffix('/').unwrap_or(path).to_owned();
    for segment in segments {
        joined.push('/');
        joined.extend(utf8_percent_encode(segment, SEGMENT));
    }
    if let Some(query) = base.query() {
        joined.push('?');
        joined.push_str(query);
    }
    let mut parts = base.clone().into_parts();
    parts.path_and_query = Some(
        joined
            .parse()
            .map_err(|e: http::uri::InvalidUri| UriError::Invalid(e.to_string()))?,
    );
    Uri::from_parts(parts).map_err(|e| UriError::Invalid(e.to_string()))
}

#[cfg_attr(not(feature = "remote-policy"), allow(dead_code))]
/// `uri` with `name=value` (form-encoded) appended to its query.
pub fn with_query_pair(uri: &Uri, name: &str, value: &str) -> Result<Uri, UriError> {
    let pair = form_urlencoded::Serializer::new(String::new())
        .append_pair(name, value)
        .finish();
    let path_and_query = match uri.query() {
        Some(q) if !q.is_empty() => format!("{}?{q}&{pair}", uri.path()),
        _ => format!("{}?{pair}", uri.path()),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(
        path_and_query
            .parse()
            .map_err(|e: http::uri::InvalidUri| UriError::Invalid(e.to_string()))?,
    );
    Uri::from_parts(parts).map_err(|e| UriError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        parse_absolute(s).unwrap()
    }

    #[test]
    fn a_url_without_scheme_is_relative() {
        assert_eq!(
            parse_absolute("mcp.example.com/mcp"),
            Err(UriError::Relative)
        );
        assert_eq!(parse_absolute("/mcp"), Err(UriError::Relative));
        assert_eq!(parse_absolute("1http://h/"), Err(UriError::Relative));
        assert_eq!(
            parse_absolute("relative URL without a base")
                .unwrap_err()
                .to_string(),
            "relative URL without a base"
        );
    }

    #[test]
    fn hosts_and_ports_are_checked() {
        assert!(parse_absolute("https:///x").is_err());
        assert_eq!(parse_absolute("https://:443/x"), Err(UriError::EmptyHost));
        assert_eq!(
            parse_absolute("https://h:99999/x"),
            Err(UriError::InvalidPort)
        );
        assert!(matches!(
            parse_absolute("https://exa mple.com/"),
            Err(UriError::Invalid(_))
        ));
        assert!(matches!(
            parse_absolute("https://bücher.example/"),
            Err(UriError::Invalid(_))
        ));
        assert_eq!(uri("https://[::1]:8443/x").port_u16(), Some(8443));
        assert_eq!(uri("https://[::1]/x").port_u16(), None);
    }

    #[test]
    fn the_fragment_is_not_kept() {
        assert_eq!(
            uri("https://h.example/a?b=1#c").to_string(),
            "https://h.example/a?b=1"
        );
    }

    #[test]
    #[cfg(feature = "diagnose")]
    fn has_scheme_tells_uris_from_client_ids() {
        assert!(has_scheme("https://h.example/mcp"));
        assert!(has_scheme("api://4f6e-11"));
        assert!(has_scheme("urn:example:resource"));
        assert!(!has_scheme("my-client"));
        assert!(!has_scheme("0oa1b2c3"));
        assert!(!has_scheme(":nothing"));
    }

    #[test]
    fn origin_is_lower_case_without_the_default_port() {
        assert_eq!(
            origin(&uri("HTTPS://Auth.Example.com:443/t")),
            "https://auth.example.com"
        );
        assert_eq!(origin(&uri("http://h.example:80")), "http://h.example");
        assert_eq!(
            origin(&uri("https://h.example:8443/a")),
            "https://h.example:8443"
        );
        assert_eq!(origin(&uri("http://[::1]:9/a")), "http://[::1]:9");
    }

    #[test]
    fn loopback_hosts() {
        for u in [
            "http://localhost:8080/",
            "http://LOCALHOST/",
            "http://app.localhost/",
            "http://127.0.0.1/",
            "http://127.8.9.10:1/",
            "http://[::1]:8080/",
        ] {
            assert!(is_loopback(&uri(u)), "{u}");
        }
        for u in [
            "http://example.com/",
            "http://localhost.example.com/",
            "http://10.0.0.1/",
            "http://[::2]/",
        ] {
            assert!(!is_loopback(&uri(u)), "{u}");
        }
    }

    #[test]
    fn segments_are_appended_and_encoded() {
        let joined = |base: &str| {
            join_segments(&uri(base), &["authsec", "rs 1/x", "sdk-policy"])
                .unwrap()
                .to_string()
        };
        assert_eq!(
            joined("https://c.example"),
            "https://c.example/authsec/rs%201%2Fx/sdk-policy"
        );
        assert_eq!(
            joined("https://c.example/console/"),
            "https://c.example/console/authsec/rs%201%2Fx/sdk-policy"
        );
        assert_eq!(
            joined("https://c.example/console?tenant=a"),
            "https://c.example/console/authsec/rs%201%2Fx/sdk-policy?tenant=a"
        );
    }

    #[test]
    fn a_query_pair_is_appended() {
        assert_eq!(
            with_query_pair(&uri("https://c.example/p"), "wait_for_generation", "7")
                .unwrap()
                .to_string(),
            "https://c.example/p?wait_for_generation=7"
        );
        assert_eq!(
            with_query_pair(&uri("https://c.example/p?a=1"), "b", "x y")
                .unwrap()
                .to_string(),
            "https://c.example/p?a=1&b=x+y"
        );
    }
}
