//! Generation change notifications, so a long-polling SDK wakes as soon as its resource
//! server's policy changes.
//!
//! Within one console process, every committed mutation publishes the new generation on a
//! `tokio::sync::watch` channel per resource server. With PostgreSQL, several console instances
//! may serve the same database: each mutation also sends `pg_notify('authsec_generation',
//! '<rs id> <generation>')` inside its transaction (delivered on commit), and every instance
//! runs one `LISTEN` connection that republishes what it hears on its local channels. If that
//! connection drops, notifications may be lost while it reconnects, so every waiter is woken
//! to re-read the database; the long-poll timeout bounds any delay that remains.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The PostgreSQL notification channel.
pub(crate) const PG_CHANNEL: &str = "authsec_generation";

/// Watch channels of generations, one per resource server with waiters.
#[derive(Debug, Default)]
pub(crate) struct GenerationHub {
    senders: Mutex<HashMap<String, watch::Sender<i64>>>,
    /// Bumped by [`GenerationHub::wake_all`] before it wakes anyone: a waiter woken by it
    /// must not share a read made before (see `Store::sdk_policy_after`).
    epoch: std::sync::atomic::AtomicU64,
}

impl GenerationHub {
    /// A receiver that changes whenever `rs_id`'s generation is published.
    pub(crate) fn subscribe(&self, rs_id: &str) -> watch::Receiver<i64> {
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        senders
            .entry(rs_id.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Publishes a new generation for `rs_id`, waking its waiters.
    pub(crate) fn publish(&self, rs_id: &str, generation: i64) {
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = senders.get(rs_id) {
            if tx.receiver_count() == 0 {
                senders.remove(rs_id);
            } else {
                tx.send_replace(generation);
            }
        }
    }

    /// How many times [`GenerationHub::wake_all`] has run.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Wakes every waiter (after a lost `LISTEN` connection: they re-read the database).
    pub(crate) fn wake_all(&self) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        for tx in senders.values() {
            tx.send_modify(|_| {});
        }
    }
}

/// Parses a `pg_notify` payload: `<rs id> <generation>`.
fn parse_payload(payload: &str) -> Option<(&str, i64)> {
    let (id, generation) = payload.split_once(' ')?;
    Some((id, generation.parse().ok()?))
}

/// Runs `LISTEN authsec_generation` on its own connection for as long as the handle lives,
/// reconnecting after failures.
pub(crate) fn spawn_pg_listener(url: String, hub: Arc<GenerationHub>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match sqlx::postgres::PgListener::connect(&url).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen(PG_CHANNEL).await {
                        tracing::warn!(target: "authsec::console", error = %e, "LISTEN failed; retrying");
                    } else {
                        // Anything published while we were not listening is unknown: re-read.
                        hub.wake_all();
                        loop {
                            match listener.try_recv().await {
                                Ok(Some(n)) => {
                                    if let Some((id, generation)) = parse_payload(n.payload()) {
                                        hub.publish(id, generation);
                                    }
                                }
                                Ok(None) => {
                                    tracing::warn!(target: "authsec::console", "LISTEN connection lost; reconnecting");
                                    hub.wake_all();
                                }
                                Err(e) => {
                                    tracing::warn!(target: "authsec::console", error = %e, "LISTEN failed; reconnecting");
                                    hub.wake_all();
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(target: "authsec::console", error = %e, "cannot open the LISTEN connection; retrying");
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse() {
        assert_eq!(parse_payload("rs-525da3b4 17"), Some(("rs-525da3b4", 17)));
        assert_eq!(parse_payload("rs-525da3b4"), None);
        assert_eq!(parse_payload("rs-525da3b4 x"), None);
    }

    #[tokio::test]
    async fn publish_wakes_a_subscriber_of_that_server_only() {
        let hub = GenerationHub::default();
        let mut a = hub.subscribe("rs-a");
        let b = hub.subscribe("rs-b");
        hub.publish("rs-a", 3);
        assert!(a.has_changed().unwrap());
        assert!(!b.has_changed().unwrap());
        a.changed().await.unwrap();
        assert_eq!(*a.borrow(), 3);
        hub.wake_all();
        assert!(b.has_changed().unwrap());
    }
}
