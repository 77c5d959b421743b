//! The policy store: SQLite (a file, WAL mode, created if missing) or PostgreSQL, through
//! `sqlx`'s `Any` driver so that one set of portable queries (`$1` placeholders, `INTEGER`/
//! `BIGINT` for times and 0/1 booleans, JSON as text) serves both. Migrations are embedded
//! per dialect (`migrations/sqlite`, `migrations/postgres`).
//!
//! Every mutation runs in one transaction that also writes its audit entry and bumps the
//! resource server's generation; after commit the new generation is published so that
//! long-polling SDKs wake (within one process through a watch channel per resource server,
//! across PostgreSQL instances through `LISTEN/NOTIFY`).
//!
//! SQLite allows one writer at a time; the store serialises its own write transactions with an
//! in-process lock so they never fail with `SQLITE_BUSY`. A SQLite file therefore belongs to one
//! console process; use PostgreSQL to run several instances.

mod migrations;
mod policy;
mod sessions;
mod tokens;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, Row};
use tokio::sync::{watch, Mutex, MutexGuard};
use tokio::task::JoinHandle;

use crate::auth::Actor;
use crate::error::Error;
use crate::model::AuditEntry;
use crate::notify::{self, GenerationHub};
use authsec_proto::Clock;

pub use policy::{ManifestOutcome, NewResourceServer, NewScope, ResourceServerPatch};
pub use sessions::SessionKind;
pub use tokens::{ClientPatch, StoredKey};

/// Which audit entries to read; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only entries about this resource server.
    pub resource_server_id: Option<String>,
    /// Only entries by this actor (`admin`, `resource_server:<id>`, `client:<id>`, `system`).
    pub actor: Option<String>,
    /// Only actions starting with this, e.g. `mapping.` or `scope.deleted`.
    pub action_prefix: Option<String>,
}

/// The database behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (one console instance).
    Sqlite,
    /// PostgreSQL (one or more console instances).
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgres`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The console's persistent state. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    pool: AnyPool,
    backend: Backend,
    clock: Clock,
    write_lock: Mutex<()>,
    hub: Arc<GenerationHub>,
    listener: Option<JoinHandle<()>>,
    /// Per resource server: the notification value (and wake-all epoch) the last woken
    /// waiters saw, and the one policy read they share ([`Store::sdk_policy_after`]).
    shared_reads: std::sync::Mutex<HashMap<String, (Wake, SharedRead)>>,
}

/// A notification value and the wake-all epoch it was seen in.
type Wake = (i64, u64);

/// One policy read shared by every waiter woken by the same notification.
type SharedRead = Arc<tokio::sync::OnceCell<Arc<crate::model::SdkPolicyDocument>>>;

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(l) = &self.listener {
            l.abort();
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.inner.backend)
            .finish()
    }
}

/// Turns what a user typed into a database URL: `postgres://…` and `sqlite:…` as given (SQLite
/// gains `mode=rwc`, create if missing, unless a mode is set); anything else is a SQLite file path.
pub fn normalize_database_url(input: &str) -> Result<(Backend, String), Error> {
    if input.starts_with("postgres://") || input.starts_with("postgresql://") {
        return Ok((Backend::Postgres, input.to_owned()));
    }
    let url = if input.starts_with("sqlite:") {
        input.to_owned()
    } else if input.is_empty() {
        return Err(Error::Config {
            field: "database_url",
            value: String::new(),
            reason: "is empty. Fix: give a SQLite file path or a postgres:// URL".into(),
        });
    } else {
        const PATH: &percent_encoding::AsciiSet =
            &percent_encoding::CONTROLS.add(b'%').add(b'?').add(b'#');
        format!(
            "sqlite://{}",
            percent_encoding::utf8_percent_encode(input, PATH)
        )
    };
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(Error::Config {
            field: "database_url",
            value: url,
            reason: "an in-memory SQLite database is not supported (each connection would see \
                     its own empty database). Fix: use a file path"
                .into(),
        });
    }
    let url = if url.contains("mode=") {
        url
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    };
    Ok((Backend::Sqlite, url))
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `database_url` (see
    /// [`normalize_database_url`]). With PostgreSQL, also starts the `LISTEN` task that carries
    /// other instances' changes to local long-polls.
    pub async fn open(database_url: &str, clock: Clock) -> Result<Store, Error> {
        sqlx::any::install_default_drivers();
        let (backend, url) = normalize_database_url(database_url)?;
        let options = AnyConnectOptions::from_str(&url).map_err(|e| Error::Config {
            field: "database_url",
            value: redact_url(&url),
            reason: e.to_string(),
        })?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 10,
            })
            .connect_with(options)
            .await?;
        if backend == Backend::Sqlite {
            // Persistent in the file: readers never block the writer, and vice versa.
            let mode: String = sqlx::query("PRAGMA journal_mode = WAL")
                .fetch_one(&pool)
                .await?
                .try_get(0)?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(target: "authsec::console", journal_mode = %mode, "SQLite refused WAL mode");
            }
        }
        migrations::migrator(backend).await?.run(&pool).await?;
        let hub = Arc::new(GenerationHub::default());
        let listener = (backend == Backend::Postgres)
            .then(|| notify::spawn_pg_listener(url.clone(), hub.clone()));
        Ok(Store {
            inner: Arc::new(Inner {
                pool,
                backend,
                clock,
                write_lock: Mutex::new(()),
                hub,
                listener,
                shared_reads: std::sync::Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Closes the connection pool (waits for connections in use to be returned).
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The clock used for every timestamp.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub(crate) fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// The row `query` selects for `id` (it must include `secret_hash`), when `secret`
    /// matches that hash. An unknown id costs the same work as a wrong secret, so timing does
    /// not reveal which ids exist.
    pub(crate) async fn row_with_secret(
        &self,
        query: &str,
        id: &str,
        secret: &str,
    ) -> Result<Option<sqlx::any::AnyRow>, Error> {
        let Some(row) = sqlx::query(query)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
        else {
            crate::auth::verify_against_nothing(secret);
            return Ok(None);
        };
        let hash: String = row.try_get("secret_hash")?;
        Ok(crate::auth::verify_secret(secret, &hash).then_some(row))
    }

    /// A receiver that changes when `rs_id`'s generation changes (see [`crate::notify`]).
    pub(crate) fn subscribe(&self, rs_id: &str) -> watch::Receiver<i64> {
        self.inner.hub.subscribe(rs_id)
    }

    /// `rs_id`'s SDK policy for a waiter that saw notification value `seen` (from
    /// [`Store::subscribe`]): every waiter that saw the same value, woken in the same wake-all
    /// epoch, shares one read, which started after that notification (so after the change it
    /// announces). 10,000 waiters woken by one change cost one read, not 10,000. A failed read
    /// is not shared.
    pub(crate) async fn sdk_policy_after(
        &self,
        rs_id: &str,
        seen: i64,
    ) -> Result<Arc<crate::model::SdkPolicyDocument>, Error> {
        let seen = (seen, self.inner.hub.epoch());
        let cell = {
            let mut reads = self
                .inner
                .shared_reads
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match reads.get(rs_id) {
                Some((value, cell)) if *value == seen => cell.clone(),
                _ => {
                    let cell = SharedRead::default();
                    reads.insert(rs_id.to_owned(), (seen, cell.clone()));
                    cell
                }
            }
        };
        cell.get_or_try_init(|| async { self.sdk_policy(rs_id).await.map(Arc::new) })
            .await
            .cloned()
    }

    /// Starts a write transaction (serialised with other writers on SQLite).
    pub(crate) async fn write(&self) -> Result<WriteTx<'_>, Error> {
        let guard = match self.inner.backend {
            Backend::Sqlite => Some(self.inner.write_lock.lock().await),
            Backend::Postgres => None,
        };
        let tx = self.inner.pool.begin().await?;
        Ok(WriteTx {
            store: self,
            tx,
            _guard: guard,
            bumped: Vec::new(),
            now: self.now(),
        })
    }

    // ---- admin token -------------------------------------------------------------------

    const ADMIN_TOKEN_KEY: &'static str = "admin_token_hash";

    /// The stored admin token hash, if one was created.
    pub(crate) async fn admin_token_hash(&self) -> Result<Option<String>, Error> {
        let row = sqlx::query("SELECT value FROM console_settings WHERE key = $1")
            .bind(Self::ADMIN_TOKEN_KEY)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    /// Stores `hash` as the admin token unless one exists; true if this call stored it (two
    /// instances starting together on one PostgreSQL database: exactly one wins).
    pub(crate) async fn create_admin_token_if_missing(&self, hash: &str) -> Result<bool, Error> {
        let mut tx = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO console_settings (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(Self::ADMIN_TOKEN_KEY)
        .bind(hash)
        .bind(tx.now)
        .execute(tx.conn())
        .await?
        .rows_affected()
            == 1;
        if inserted {
            tx.audit(
                &Actor::System,
                "admin_token.created",
                None,
                None,
                None,
                None,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// Replaces the stored admin token hash and ends every web console session.
    pub(crate) async fn replace_admin_token(&self, actor: &Actor, hash: &str) -> Result<(), Error> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO console_settings (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(Self::ADMIN_TOKEN_KEY)
        .bind(hash)
        .bind(tx.now)
        .execute(tx.conn())
        .await?;
        // A new admin token is also a new start for the web console: every sign-in made with
        // the old one (sessions and unused links) ends.
        sqlx::query("DELETE FROM console_sessions")
            .execute(tx.conn())
            .await?;
        tx.audit(actor, "admin_token.rotated", None, None, None, None)
            .await?;
        tx.commit().await
    }

    // ---- audit log ---------------------------------------------------------------------

    /// Audit entries, newest first: at most `limit` (1–500) entries with id below `before`,
    /// optionally only those about one resource server.
    pub async fn audit_log(
        &self,
        resource_server_id: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, Error> {
        let filter = AuditFilter {
            resource_server_id: resource_server_id.map(str::to_owned),
            ..AuditFilter::default()
        };
        self.audit_log_matching(&filter, before, limit).await
    }

    /// Audit entries matching `filter`, newest first: at most `limit` (1–500) entries with id
    /// below `before`.
    pub async fn audit_log_matching(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, Error> {
        // The prefix is compared with substr, not LIKE, so `_` and `%` in it mean themselves.
        let rows = sqlx::query(
            "SELECT id, at, actor, action, resource_server_id, target, before_json, after_json \
             FROM audit_log \
             WHERE ($1 = '' OR resource_server_id = $1) AND id < $2 \
             AND ($4 = '' OR actor = $4) \
             AND ($5 = '' OR substr(action, 1, length($5)) = $5) \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(filter.resource_server_id.as_deref().unwrap_or(""))
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit.clamp(1, 500))
        .bind(filter.actor.as_deref().unwrap_or(""))
        .bind(filter.action_prefix.as_deref().unwrap_or(""))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let json = |col: &str| -> Result<Option<Value>, Error> {
                    r.try_get::<Option<String>, _>(col)?
                        .map(|s| from_json("audit entry", &s))
                        .transpose()
                };
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    resource_server_id: r.try_get("resource_server_id")?,
                    target: r.try_get("target")?,
                    before: json("before_json")?,
                    after: json("after_json")?,
                })
            })
            .collect()
    }
}

/// A write transaction: mutations, their audit entries and generation bumps commit together;
/// waiters are woken after the commit.
pub(crate) struct WriteTx<'s> {
    store: &'s Store,
    tx: sqlx::Transaction<'static, Any>,
    _guard: Option<MutexGuard<'s, ()>>,
    bumped: Vec<(String, i64)>,
    /// The transaction's timestamp.
    pub(crate) now: i64,
}

impl WriteTx<'_> {
    /// The connection, for queries.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Locks the resource server's row for the rest of the transaction (PostgreSQL; SQLite is
    /// already serialised) and checks that it exists.
    pub(crate) async fn lock_resource_server(&mut self, rs_id: &str) -> Result<(), Error> {
        let n = sqlx::query("UPDATE resource_servers SET generation = generation WHERE id = $1")
            .bind(rs_id)
            .execute(self.conn())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(Error::not_found("resource_server", rs_id));
        }
        Ok(())
    }

    /// Bumps the resource server's generation (and `updated_at`); returns the new generation.
    pub(crate) async fn bump(&mut self, rs_id: &str) -> Result<i64, Error> {
        let now = self.now;
        let generation: i64 = sqlx::query(
            "UPDATE resource_servers SET generation = generation + 1, updated_at = $2 \
             WHERE id = $1 RETURNING generation",
        )
        .bind(rs_id)
        .bind(now)
        .fetch_optional(self.conn())
        .await?
        .ok_or_else(|| Error::not_found("resource_server", rs_id))?
        .try_get(0)?;
        if self.store.backend() == Backend::Postgres {
            sqlx::query("SELECT 1 FROM pg_notify($1, $2)")
                .bind(notify::PG_CHANNEL)
                .bind(format!("{rs_id} {generation}"))
                .execute(self.conn())
                .await?;
        }
        self.bumped.push((rs_id.to_owned(), generation));
        Ok(generation)
    }

    /// Appends an audit entry.
    pub(crate) async fn audit(
        &mut self,
        actor: &Actor,
        action: &str,
        resource_server_id: Option<&str>,
        target: Option<&str>,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Result<(), Error> {
        let now = self.now;
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, resource_server_id, target, before_json, after_json) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(now)
        .bind(actor.as_audit_string())
        .bind(action)
        .bind(resource_server_id)
        .bind(target)
        .bind(before.map(|v| v.to_string()))
        .bind(after.map(|v| v.to_string()))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Commits, then wakes the waiters of every bumped resource server.
    pub(crate) async fn commit(self) -> Result<(), Error> {
        self.tx.commit().await?;
        for (rs_id, generation) in &self.bumped {
            self.store.inner.hub.publish(rs_id, *generation);
        }
        Ok(())
    }
}

/// A JSON text column.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::corrupt("JSON value", e))
}

/// Reads a JSON text column.
pub(crate) fn from_json<T: DeserializeOwned>(what: &'static str, text: &str) -> Result<T, Error> {
    serde_json::from_str(text).map_err(|e| Error::corrupt(what, e))
}

/// A serialisable value as JSON for the audit log.
pub(crate) fn audit_value<T: Serialize>(value: &T) -> Option<Value> {
    serde_json::to_value(value).ok()
}

/// A database URL without its password, for messages.
pub(crate) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_path_becomes_a_sqlite_url_that_creates_the_file() {
        assert_eq!(
            normalize_database_url("data/console.db").unwrap(),
            (
                Backend::Sqlite,
                "sqlite://data/console.db?mode=rwc".to_owned()
            )
        );
        assert_eq!(
            normalize_database_url("/tmp/a b?.db").unwrap().1,
            "sqlite:///tmp/a b%3F.db?mode=rwc"
        );
    }

    #[test]
    fn sqlite_urls_keep_an_explicit_mode() {
        assert_eq!(
            normalize_database_url("sqlite://x.db?mode=ro").unwrap().1,
            "sqlite://x.db?mode=ro"
        );
        assert_eq!(
            normalize_database_url("sqlite://x.db").unwrap().1,
            "sqlite://x.db?mode=rwc"
        );
    }

    #[test]
    fn postgres_urls_pass_through() {
        assert_eq!(
            normalize_database_url("postgres://u:p@127.0.0.1:5432/db").unwrap(),
            (
                Backend::Postgres,
                "postgres://u:p@127.0.0.1:5432/db".to_owned()
            )
        );
    }

    #[test]
    fn in_memory_sqlite_is_refused() {
        assert!(matches!(
            normalize_database_url("sqlite::memory:"),
            Err(Error::Config { .. })
        ));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
    }
}
