//! Web console sign-ins: sessions (the browser's cookie) and one-time sign-in links.
//!
//! Only the SHA-256 of each random value is stored, so a copy of the database signs nobody
//! in. Each row has an absolute expiry; expired rows are deleted when a new one is created.

use aws_lc_rs::digest;
use sqlx::Row;

use super::Store;
use crate::auth::Actor;
use crate::error::Error;

/// What a `console_sessions` row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A signed-in browser.
    Session,
    /// A one-time sign-in link, consumed by its first use.
    SignInLink,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Session => "session",
            SessionKind::SignInLink => "link",
        }
    }
}

/// The stored key of a session or link value: SHA-256, hex. The values are 256 random bits, so
/// an unsalted hash is enough to keep them out of the database.
pub(crate) fn session_key(value: &str) -> String {
    digest::digest(&digest::SHA256, value.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Store {
    /// Stores a session or sign-in link valid until `expires_at`; forgets expired ones. A new
    /// session is recorded in the audit log.
    pub(crate) async fn create_session(
        &self,
        kind: SessionKind,
        value: &str,
        csrf: &str,
        expires_at: i64,
    ) -> Result<(), Error> {
        let mut tx = self.write().await?;
        let now = tx.now;
        sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(tx.conn())
            .await?;
        sqlx::query(
            "INSERT INTO console_sessions (id_hash, kind, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(session_key(value))
        .bind(kind.as_str())
        .bind(csrf)
        .bind(now)
        .bind(expires_at)
        .execute(tx.conn())
        .await?;
        if kind == SessionKind::Session {
            tx.audit(
                &Actor::Admin,
                "console.signed_in",
                None,
                None,
                None,
                Some(serde_json::json!({ "expires_at": expires_at })),
            )
            .await?;
        }
        tx.commit().await
    }

    /// The CSRF token of an unexpired session whose cookie holds `value`.
    pub(crate) async fn session_csrf(&self, value: &str) -> Result<Option<String>, Error> {
        let row = sqlx::query(
            "SELECT csrf FROM console_sessions WHERE id_hash = $1 AND kind = $2 AND expires_at > $3",
        )
        .bind(session_key(value))
        .bind(SessionKind::Session.as_str())
        .bind(self.now())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("csrf")).transpose()?)
    }

    /// Consumes a sign-in link: true exactly once, for an unexpired link.
    pub(crate) async fn take_sign_in_link(&self, value: &str) -> Result<bool, Error> {
        let mut tx = self.write().await?;
        let now = tx.now;
        let taken = sqlx::query(
            "DELETE FROM console_sessions WHERE id_hash = $1 AND kind = $2 AND expires_at > $3",
        )
        .bind(session_key(value))
        .bind(SessionKind::SignInLink.as_str())
        .bind(now)
        .execute(tx.conn())
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(taken)
    }

    /// Ends a session (sign-out).
    pub(crate) async fn delete_session(&self, value: &str) -> Result<(), Error> {
        let mut tx = self.write().await?;
        let n = sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1 AND kind = $2")
            .bind(session_key(value))
            .bind(SessionKind::Session.as_str())
            .execute(tx.conn())
            .await?
            .rows_affected();
        if n > 0 {
            tx.audit(&Actor::Admin, "console.signed_out", None, None, None, None)
                .await?;
        }
        tx.commit().await
    }
}
