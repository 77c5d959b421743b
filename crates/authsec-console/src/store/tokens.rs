//! The token service's state: machine clients, signing keys and revoked token ids.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::policy::check_defined_scopes;
use super::{audit_value, from_json, to_json, Store};
use crate::auth::{self, Actor};
use crate::error::Error;
use crate::model::{Client, ClientAuthMethod, ClientKeys};

/// The stored secret hash of a `private_key_jwt` client: no secret ever matches it.
const NO_SECRET: &str = "!";

/// The largest inline JWKS a client may register.
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Changes to a client; absent fields are left alone.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    /// New display name.
    pub name: Option<String>,
    /// New allowed scopes (non-empty, defined on the resource server).
    pub allowed_scopes: Option<Vec<String>>,
    /// Enable or disable (a disabled client gets no tokens; its tokens introspect inactive).
    pub enabled: Option<bool>,
    /// New inline JWKS of a `private_key_jwt` client (replaces its keys or JWKS URL).
    pub jwks: Option<Value>,
    /// New JWKS URL of a `private_key_jwt` client (replaces its keys or JWKS URL).
    pub jwks_uri: Option<String>,
}

/// A signing key as stored. The private key never leaves the console.
#[derive(Clone, Serialize)]
pub struct StoredKey {
    /// Key id (RFC 7638 thumbprint).
    pub kid: String,
    /// JWS algorithm.
    pub alg: String,
    /// PKCS#8 private key, base64.
    #[serde(skip)]
    pub private_key: String,
    /// The public JWK.
    pub public_jwk: Value,
    /// Creation time.
    pub created_at: i64,
    /// Retirement time: retired keys neither sign nor appear in the JWKS.
    pub retired_at: Option<i64>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

fn client_from_row(row: &AnyRow) -> Result<Client, Error> {
    let method: String = row.try_get("auth_method")?;
    let jwks: Option<String> = row.try_get("jwks")?;
    Ok(Client {
        auth_method: ClientAuthMethod::parse(&method)
            .ok_or_else(|| Error::corrupt("client auth_method", &method))?,
        jwks: jwks.map(|j| from_json("client JWKS", &j)).transpose()?,
        jwks_uri: row.try_get("jwks_uri")?,
        client_id: row.try_get("client_id")?,
        resource_server_id: row.try_get("resource_server_id")?,
        name: row.try_get("name")?,
        allowed_scopes: from_json(
            "client scopes",
            &row.try_get::<String, _>("allowed_scopes")?,
        )?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const CLIENT_COLUMNS: &str = "client_id, resource_server_id, name, allowed_scopes, enabled, \
     auth_method, jwks, jwks_uri, created_at, updated_at";

pub(super) async fn load_clients(
    conn: &mut AnyConnection,
    rs_id: &str,
) -> Result<Vec<Client>, Error> {
    sqlx::query(&format!(
        "SELECT {CLIENT_COLUMNS} FROM clients WHERE resource_server_id = $1 ORDER BY name, client_id"
    ))
    .bind(rs_id)
    .fetch_all(conn)
    .await?
    .iter()
    .map(client_from_row)
    .collect()
}

async fn load_client(
    conn: &mut AnyConnection,
    rs_id: &str,
    client_id: &str,
) -> Result<Client, Error> {
    sqlx::query(&format!(
        "SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1 AND resource_server_id = $2"
    ))
    .bind(client_id)
    .bind(rs_id)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(client_from_row)
    .transpose()?
    .ok_or_else(|| Error::not_found("client", client_id))
}

fn key_from_row(row: &AnyRow) -> Result<StoredKey, Error> {
    Ok(StoredKey {
        kid: row.try_get("kid")?,
        alg: row.try_get("alg")?,
        private_key: row.try_get("private_key")?,
        public_jwk: from_json("public JWK", &row.try_get::<String, _>("public_jwk")?)?,
        created_at: row.try_get("created_at")?,
        retired_at: row.try_get("retired_at")?,
    })
}

fn check_client_name(name: &str) -> Result<(), Error> {
    if name.trim().is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "must be 1–200 characters without control characters",
        ));
    }
    Ok(())
}

/// A client's public keys must be usable: an inline JWKS of public signing keys only (at least
/// one usable, none refused), or an `https` JWKS URL (`http` only on a loopback host).
pub(crate) fn check_client_keys(keys: &ClientKeys) -> Result<(), Error> {
    match keys {
        ClientKeys::Jwks(jwks) => {
            let text = jwks.to_string();
            if text.len() > MAX_JWKS_BYTES {
                return Err(Error::invalid(
                    "jwks",
                    format!("is {} bytes; at most {MAX_JWKS_BYTES}", text.len()),
                ));
            }
            let set = authsec_proto::jws::KeySet::from_json(text.as_bytes())
                .map_err(|e| Error::invalid("jwks", e.to_string()))?;
            if let Some((kid, why)) = set.rejected.first() {
                let kid = kid.as_deref().unwrap_or("(no kid)");
                return Err(Error::invalid("jwks", format!("key {kid}: {why}")));
            }
            if set.is_empty() {
                return Err(Error::invalid("jwks", "holds no key"));
            }
            Ok(())
        }
        ClientKeys::JwksUri(uri) => {
            let bad = |why: &str| Error::invalid("jwks_uri", format!("{uri:?} {why}"));
            let url = url::Url::parse(uri).map_err(|_| bad("is not an absolute URL"))?;
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d == "localhost",
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            match url.scheme() {
                "https" => Ok(()),
                "http" if loopback => Ok(()),
                _ => Err(bad("must be https (http only on a loopback host)")),
            }
        }
    }
}

fn keys_columns(keys: &ClientKeys) -> Result<(Option<String>, Option<String>), Error> {
    Ok(match keys {
        ClientKeys::Jwks(j) => (Some(to_json(j)?), None),
        ClientKeys::JwksUri(u) => (None, Some(u.clone())),
    })
}

async fn check_allowed_scopes(
    conn: &mut AnyConnection,
    rs_id: &str,
    scopes: &[String],
) -> Result<(), Error> {
    if scopes.is_empty() {
        return Err(Error::invalid(
            "allowed_scopes",
            "a client needs at least one allowed scope",
        ));
    }
    check_defined_scopes(conn, rs_id, "allowed_scopes", scopes).await
}

impl Store {
    // ---- clients -----------------------------------------------------------------------

    /// A resource server's clients.
    pub async fn list_clients(&self, rs_id: &str) -> Result<Vec<Client>, Error> {
        // Not found is an error, not an empty list.
        self.resource_server_row(rs_id).await?;
        let mut conn = self.pool().acquire().await?;
        load_clients(&mut conn, rs_id).await
    }

    /// One client of a resource server.
    pub async fn client(&self, rs_id: &str, client_id: &str) -> Result<Client, Error> {
        let mut conn = self.pool().acquire().await?;
        load_client(&mut conn, rs_id, client_id).await
    }

    /// Registers a machine client that authenticates with a secret; returns it and its secret
    /// (shown once).
    pub async fn create_client(
        &self,
        actor: &Actor,
        rs_id: &str,
        name: String,
        allowed_scopes: Vec<String>,
    ) -> Result<(Client, String), Error> {
        let secret = auth::generate_secret("asc_")?;
        let hash = auth::hash_secret(&secret)?;
        let client = self
            .insert_client(actor, rs_id, name, allowed_scopes, &hash, None)
            .await?;
        Ok((client, secret))
    }

    /// Registers a machine client that authenticates with RFC 7523 assertions signed by one of
    /// `keys` (`private_key_jwt`); it has no secret.
    pub async fn create_key_client(
        &self,
        actor: &Actor,
        rs_id: &str,
        name: String,
        allowed_scopes: Vec<String>,
        keys: ClientKeys,
    ) -> Result<Client, Error> {
        check_client_keys(&keys)?;
        self.insert_client(actor, rs_id, name, allowed_scopes, NO_SECRET, Some(keys))
            .await
    }

    async fn insert_client(
        &self,
        actor: &Actor,
        rs_id: &str,
        name: String,
        allowed_scopes: Vec<String>,
        secret_hash: &str,
        keys: Option<ClientKeys>,
    ) -> Result<Client, Error> {
        check_client_name(&name)?;
        let client_id = format!("cl-{}", auth::random_hex::<8>()?);
        let auth_method = match keys {
            Some(_) => ClientAuthMethod::PrivateKeyJwt,
            None => ClientAuthMethod::ClientSecret,
        };
        let (jwks, jwks_uri) = match &keys {
            Some(k) => keys_columns(k)?,
            None => (None, None),
        };
        let mut tx = self.write().await?;
        tx.lock_resource_server(rs_id).await?;
        check_allowed_scopes(tx.conn(), rs_id, &allowed_scopes).await?;
        let now = tx.now;
        sqlx::query(
            "INSERT INTO clients (client_id, resource_server_id, name, secret_hash, allowed_scopes, \
             auth_method, jwks, jwks_uri, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(&client_id)
        .bind(rs_id)
        .bind(&name)
        .bind(secret_hash)
        .bind(to_json(&allowed_scopes)?)
        .bind(auth_method.as_str())
        .bind(jwks)
        .bind(jwks_uri)
        .bind(now)
        .execute(tx.conn())
        .await?;
        tx.bump(rs_id).await?;
        let client = Client {
            client_id,
            resource_server_id: rs_id.to_owned(),
            name,
            allowed_scopes,
            enabled: true,
            auth_method,
            jwks: match &keys {
                Some(ClientKeys::Jwks(j)) => Some(j.clone()),
                _ => None,
            },
            jwks_uri: match keys {
                Some(ClientKeys::JwksUri(u)) => Some(u),
                _ => None,
            },
            created_at: now,
            updated_at: now,
        };
        tx.audit(
            actor,
            "client.created",
            Some(rs_id),
            Some(&client.client_id),
            None,
            audit_value(&client),
        )
        .await?;
        tx.commit().await?;
        Ok(client)
    }

    /// Changes a client's name, allowed scopes or enabled flag (tokens already issued keep
    /// their scopes until they expire or are revoked; a disabled client's tokens introspect as
    /// inactive).
    pub async fn update_client(
        &self,
        actor: &Actor,
        rs_id: &str,
        client_id: &str,
        patch: ClientPatch,
    ) -> Result<Client, Error> {
        if let Some(n) = &patch.name {
            check_client_name(n)?;
        }
        let keys = match (patch.jwks, patch.jwks_uri) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid("jwks", "give jwks or jwks_uri, not both"))
            }
            (Some(j), None) => Some(ClientKeys::Jwks(j)),
            (None, Some(u)) => Some(ClientKeys::JwksUri(u)),
            (None, None) => None,
        };
        if let Some(k) = &keys {
            check_client_keys(k)?;
        }
        let mut tx = self.write().await?;
        tx.lock_resource_server(rs_id).await?;
        let before = load_client(tx.conn(), rs_id, client_id).await?;
        if keys.is_some() && before.auth_method != ClientAuthMethod::PrivateKeyJwt {
            return Err(Error::invalid(
                "jwks",
                "this client authenticates with a secret; register a private_key_jwt client instead",
            ));
        }
        if let Some(s) = &patch.allowed_scopes {
            check_allowed_scopes(tx.conn(), rs_id, s).await?;
        }
        let (jwks, jwks_uri) = match keys {
            Some(ClientKeys::Jwks(j)) => (Some(j), None),
            Some(ClientKeys::JwksUri(u)) => (None, Some(u)),
            None => (before.jwks.clone(), before.jwks_uri.clone()),
        };
        let after = Client {
            jwks,
            jwks_uri,
            name: patch.name.unwrap_or_else(|| before.name.clone()),
            allowed_scopes: patch
                .allowed_scopes
                .unwrap_or_else(|| before.allowed_scopes.clone()),
            enabled: patch.enabled.unwrap_or(before.enabled),
            updated_at: tx.now,
            ..before.clone()
        };
        sqlx::query(
            "UPDATE clients SET name = $2, allowed_scopes = $3, enabled = $4, updated_at = $5, \
             jwks = $6, jwks_uri = $7 WHERE client_id = $1",
        )
        .bind(client_id)
        .bind(&after.name)
        .bind(to_json(&after.allowed_scopes)?)
        .bind(i64::from(after.enabled))
        .bind(after.updated_at)
        .bind(after.jwks.as_ref().map(to_json).transpose()?)
        .bind(after.jwks_uri.clone())
        .execute(tx.conn())
        .await?;
        tx.bump(rs_id).await?;
        tx.audit(
            actor,
            "client.updated",
            Some(rs_id),
            Some(client_id),
            audit_value(&before),
            audit_value(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes a client; its tokens stop introspecting as active.
    pub async fn delete_client(
        &self,
        actor: &Actor,
        rs_id: &str,
        client_id: &str,
    ) -> Result<(), Error> {
        let mut tx = self.write().await?;
        tx.lock_resource_server(rs_id).await?;
        let before = load_client(tx.conn(), rs_id, client_id).await?;
        sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(client_id)
            .execute(tx.conn())
            .await?;
        tx.bump(rs_id).await?;
        tx.audit(
            actor,
            "client.deleted",
            Some(rs_id),
            Some(client_id),
            audit_value(&before),
            None,
        )
        .await?;
        tx.commit().await
    }

    /// Replaces a client's secret; returns the new one (shown once).
    pub async fn rotate_client_secret(
        &self,
        actor: &Actor,
        rs_id: &str,
        client_id: &str,
    ) -> Result<String, Error> {
        let secret = auth::generate_secret("asc_")?;
        let hash = auth::hash_secret(&secret)?;
        let mut tx = self.write().await?;
        tx.lock_resource_server(rs_id).await?;
        if load_client(tx.conn(), rs_id, client_id).await?.auth_method
            == ClientAuthMethod::PrivateKeyJwt
        {
            return Err(Error::invalid(
                "client",
                "authenticates with private_key_jwt and has no secret; replace its keys instead \
                 (jwks or jwks_uri)",
            ));
        }
        sqlx::query("UPDATE clients SET secret_hash = $2, updated_at = $3 WHERE client_id = $1")
            .bind(client_id)
            .bind(&hash)
            .bind(tx.now)
            .execute(tx.conn())
            .await?;
        tx.bump(rs_id).await?;
        tx.audit(
            actor,
            "client.secret_rotated",
            Some(rs_id),
            Some(client_id),
            None,
            Some(json!({ "client_id": client_id })),
        )
        .await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// Checks a client's credentials; returns the client when they match.
    pub(crate) async fn authenticate_client(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<Option<Client>, Error> {
        let query =
            format!("SELECT {CLIENT_COLUMNS}, secret_hash FROM clients WHERE client_id = $1");
        self.row_with_secret(&query, client_id, secret)
            .await?
            .map(|row| client_from_row(&row))
            .transpose()
    }

    /// A client by id, whatever its resource server.
    pub(crate) async fn client_by_id(&self, client_id: &str) -> Result<Option<Client>, Error> {
        sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1"
        ))
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(client_from_row)
        .transpose()
    }

    /// Records the `jti` of a client assertion until `expires_at`; false when it was already
    /// recorded (a replay). Forgets assertions that have expired.
    pub(crate) async fn record_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool, Error> {
        let mut tx = self.write().await?;
        let now = tx.now;
        sqlx::query("DELETE FROM client_assertions WHERE expires_at < $1")
            .bind(now)
            .execute(tx.conn())
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO client_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id, jti) DO NOTHING",
        )
        .bind(client_id)
        .bind(jti)
        .bind(expires_at)
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(inserted == 1)
    }

    // ---- signing keys ------------------------------------------------------------------

    /// Signing keys, newest first; retired ones only if asked.
    pub async fn signing_keys(&self, include_retired: bool) -> Result<Vec<StoredKey>, Error> {
        sqlx::query(
            "SELECT kid, alg, private_key, public_jwk, created_at, retired_at FROM signing_keys \
             WHERE ($1 = 1 OR retired_at IS NULL) ORDER BY serial DESC",
        )
        .bind(i64::from(include_retired))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(key_from_row)
        .collect()
    }

    /// Stores a new signing key; being the newest, it signs from now on.
    pub(crate) async fn insert_signing_key(
        &self,
        actor: &Actor,
        key: &StoredKey,
    ) -> Result<(), Error> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, serial, alg, private_key, public_jwk, created_at, retired_at) \
             VALUES ($1, (SELECT COALESCE(MAX(serial), 0) + 1 FROM signing_keys), $2, $3, $4, $5, NULL)",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.private_key)
        .bind(key.public_jwk.to_string())
        .bind(key.created_at)
        .execute(tx.conn())
        .await?;
        tx.audit(
            actor,
            "signing_key.created",
            None,
            Some(&key.kid),
            None,
            audit_value(key),
        )
        .await?;
        tx.commit().await
    }

    /// Retires a key: it leaves the JWKS and its tokens stop introspecting as active. The last
    /// active key cannot be retired.
    pub async fn retire_signing_key(&self, actor: &Actor, kid: &str) -> Result<StoredKey, Error> {
        let mut tx = self.write().await?;
        let active: Vec<StoredKey> = sqlx::query(
            "SELECT kid, alg, private_key, public_jwk, created_at, retired_at FROM signing_keys \
             WHERE retired_at IS NULL",
        )
        .fetch_all(tx.conn())
        .await?
        .iter()
        .map(key_from_row)
        .collect::<Result<_, _>>()?;
        let Some(before) = active.iter().find(|k| k.kid == kid).cloned() else {
            return Err(Error::not_found("signing_key", kid));
        };
        if active.len() == 1 {
            return Err(Error::LastSigningKey {
                kid: kid.to_owned(),
            });
        }
        let now = tx.now;
        sqlx::query("UPDATE signing_keys SET retired_at = $2 WHERE kid = $1")
            .bind(kid)
            .bind(now)
            .execute(tx.conn())
            .await?;
        let after = StoredKey {
            retired_at: Some(now),
            ..before.clone()
        };
        tx.audit(
            actor,
            "signing_key.retired",
            None,
            Some(kid),
            audit_value(&before),
            audit_value(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    // ---- revocation --------------------------------------------------------------------

    /// Records a revoked token id until the token would have expired anyway. Also forgets
    /// revocations of tokens that have since expired.
    pub(crate) async fn revoke_token(
        &self,
        actor: &Actor,
        resource_server_id: Option<&str>,
        jti: &str,
        expires_at: i64,
        details: Value,
    ) -> Result<(), Error> {
        let mut tx = self.write().await?;
        let now = tx.now;
        sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
            .bind(now)
            .execute(tx.conn())
            .await?;
        sqlx::query(
            "INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES ($1, $2, $3) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .bind(now)
        .execute(tx.conn())
        .await?;
        tx.audit(
            actor,
            "token.revoked",
            resource_server_id,
            Some(jti),
            None,
            Some(details),
        )
        .await?;
        tx.commit().await
    }

    /// Was this token id revoked?
    pub(crate) async fn is_revoked(&self, jti: &str) -> Result<bool, Error> {
        Ok(sqlx::query("SELECT jti FROM revoked_tokens WHERE jti = $1")
            .bind(jti)
            .fetch_optional(self.pool())
            .await?
            .is_some())
    }
}
