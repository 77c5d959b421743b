//! The console's admin API and token service, as the soak uses them: registration, tokens
//! (`client_credentials`), revocation, signing-key rotation and tool mappings.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};

use crate::oracle::Rule;

/// A client id and secret.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// `client_id` (also the tokens' `sub`).
    pub id: String,
    /// `client_secret`.
    pub secret: String,
}

/// An access token and what it says.
#[derive(Clone, Debug)]
pub struct Token {
    /// The compact JWS.
    pub value: String,
    /// `sub`.
    pub subject: String,
    /// `scope`, split.
    pub granted: Vec<String>,
    /// `iat` (Unix seconds).
    pub iat: i64,
    /// `exp` (Unix seconds).
    pub exp: i64,
    /// The signing key's `kid`.
    pub kid: String,
}

impl Token {
    /// An opaque string posing as a token: no subject, scopes or times.
    pub fn opaque(value: String) -> Token {
        Token {
            value,
            subject: String::new(),
            granted: Vec::new(),
            iat: 0,
            exp: 0,
            kid: String::new(),
        }
    }

    /// The same token with its claims altered (every notes scope granted): the signature no
    /// longer verifies.
    pub fn tampered(&self) -> String {
        let mut parts = self.value.split('.');
        let (Some(header), Some(payload), Some(signature)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return format!("{}x", self.value);
        };
        let mut claims: Value = decode(payload).unwrap_or(Value::Null);
        claims["scope"] = json!("notes:read notes:write notes:admin notes:root");
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("{header}.{payload}.{signature}")
    }
}

fn decode(segment: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Reads what the soak needs from a console token.
fn parse_token(value: String) -> Result<Token, String> {
    let mut parts = value.split('.');
    let header = parts.next().and_then(decode);
    let claims = parts.next().and_then(decode);
    let (Some(header), Some(claims)) = (header, claims) else {
        return Err("the token service returned a token that is not a JWS".into());
    };
    let num = |name: &str| claims.get(name).and_then(Value::as_i64);
    let text = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
    let (Some(iat), Some(exp), Some(subject), Some(kid)) = (
        num("iat"),
        num("exp"),
        text(&claims, "sub"),
        text(&header, "kid"),
    ) else {
        return Err(format!("token claims lack iat/exp/sub/kid: {claims}"));
    };
    let granted = text(&claims, "scope")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(Token {
        value,
        subject,
        granted,
        iat,
        exp,
        kid,
    })
}

/// The console at `base`.
#[derive(Clone)]
pub struct Console {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT`: the public URL and issuer.
    pub base: String,
    admin_token: String,
}

impl Console {
    /// A client for the console at `base` with the admin token.
    pub fn new(http: reqwest::Client, base: String, admin_token: String) -> Console {
        Console {
            http,
            base,
            admin_token,
        }
    }

    /// True when the console answers its metadata.
    pub async fn ready(&self) -> bool {
        let url = format!("{}/.well-known/oauth-authorization-server", self.base);
        matches!(self.http.get(url).send().await, Ok(r) if r.status().is_success())
    }

    /// An admin API call; a non-2xx answer is an error naming it.
    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut rb = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.admin_token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("{method} {path}: {status} {text}"));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Creates a resource server for `resource_uri` defining `scopes`; its id and secret.
    pub async fn resource_server(
        &self,
        name: &str,
        resource_uri: &str,
        scopes: &[&str],
    ) -> Result<Credentials, String> {
        let scopes: Vec<Value> = scopes.iter().map(|n| json!({ "name": n })).collect();
        let body = self
            .admin(
                Method::POST,
                "/api/resource-servers",
                Some(json!({"name": name, "resource_uri": resource_uri, "scopes": scopes})),
            )
            .await?;
        Ok(Credentials {
            id: str_at(&body, "/resource_server/id")?,
            secret: str_at(&body, "/credentials/client_secret")?,
        })
    }

    /// Registers a client of resource server `rs` allowed `scopes`.
    pub async fn client(
        &self,
        rs: &str,
        name: &str,
        scopes: &[&str],
    ) -> Result<Credentials, String> {
        let body = self
            .admin(
                Method::POST,
                &format!("/api/resource-servers/{rs}/clients"),
                Some(json!({"name": name, "allowed_scopes": scopes})),
            )
            .await?;
        Ok(Credentials {
            id: str_at(&body, "/client/client_id")?,
            secret: str_at(&body, "/client_secret")?,
        })
    }

    /// Sets `tool`'s rule: `PUT …/mapping`; unmapped either by `PUT {"state":"unmapped"}` or,
    /// with `by_delete`, by removing the admin decision (`DELETE …/mapping`).
    pub async fn set_rule(
        &self,
        rs: &str,
        tool: &str,
        rule: Option<&Rule>,
        by_delete: bool,
    ) -> Result<(), String> {
        let path = format!("/api/resource-servers/{rs}/tools/{tool}/mapping");
        let body = match rule {
            None if by_delete => return self.admin(Method::DELETE, &path, None).await.map(drop),
            None => json!({"state": "unmapped"}),
            Some(Rule::Public) => json!({"state": "public"}),
            Some(Rule::Any(s)) => json!({"state": "mapped", "scopes": s, "scope_match": "any"}),
            Some(Rule::All(s)) => json!({"state": "mapped", "scopes": s, "scope_match": "all"}),
        };
        self.admin(Method::PUT, &path, Some(body)).await.map(drop)
    }

    /// Rotates the token service's signing key: the new `kid` and when it starts signing
    /// (Unix seconds).
    pub async fn rotate_key(&self) -> Result<(String, i64), String> {
        let body = self.admin(Method::POST, "/api/signing-keys", None).await?;
        let signs_from = body["signs_from"]
            .as_i64()
            .ok_or_else(|| format!("no signs_from in {body}"))?;
        Ok((str_at(&body, "/kid")?, signs_from))
    }

    /// A token for `client` (`client_credentials`, `resource`, optional `scope`).
    pub async fn token(
        &self,
        client: &Credentials,
        resource: &str,
        scope: Option<&str>,
    ) -> Result<Token, String> {
        let mut form = vec![("grant_type", "client_credentials"), ("resource", resource)];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        let resp = self
            .http
            .post(format!("{}/oauth/token", self.base))
            .basic_auth(&client.id, Some(&client.secret))
            .form(&form)
            .send()
            .await
            .map_err(|e| format!("token request: {e}"))?;
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .map_err(|e| format!("token response: {e}"))?;
        if !status.is_success() {
            return Err(format!("token request: {status} {body}"));
        }
        parse_token(str_at(&body, "/access_token")?)
    }

    /// Revokes `token` (RFC 7009) as the client it was issued to.
    pub async fn revoke(&self, client: &Credentials, token: &str) -> Result<(), String> {
        let resp = self
            .http
            .post(format!("{}/oauth/revoke", self.base))
            .basic_auth(&client.id, Some(&client.secret))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| format!("revocation: {e}"))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("revocation: {}", resp.status()))
        }
    }
}

fn str_at(body: &Value, pointer: &str) -> Result<String, String> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("no string at {pointer} in {body}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tampered_token_keeps_header_and_signature_and_changes_the_claims() {
        let claims = json!({"sub": "cl-1", "scope": "notes:read", "iat": 1, "exp": 2});
        let value = format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","kid":"k1"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let token = parse_token(value.clone()).unwrap();
        assert_eq!(token.granted, ["notes:read"]);
        assert_eq!((token.kid.as_str(), token.exp), ("k1", 2));
        let bad = token.tampered();
        let (head, tail) = (value.split('.').next().unwrap(), ".c2ln");
        assert!(bad.starts_with(head) && bad.ends_with(tail) && bad != value);
    }
}
