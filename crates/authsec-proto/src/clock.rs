//! The injectable clock.
//!
//! Production uses [`Clock::System`]. Tests pin or step time with [`Clock::fixed`],
//! [`Clock::manual`] and [`Clock::with_offset`]. A non-system clock outside tests is the troubleshooting guide's
//! "you set Now to a fixed time" trap, so [`Clock::warn_if_not_system`] logs it at start-up.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the validator gets "now" from, in Unix seconds.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The operating system's wall clock. The default.
    #[default]
    System,
    /// Always the same instant. For tests only.
    Fixed(i64),
    /// A clock a test moves by hand with [`ManualClock`].
    Manual(Arc<AtomicI64>),
    /// The system clock plus an offset in seconds a test moves (read on every call).
    Offset(Arc<AtomicI64>),
}

/// Handle that moves a [`Clock::Manual`].
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// Sets the time (Unix seconds).
    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::Relaxed);
    }
    /// Moves the time forward by `secs`.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::Relaxed);
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock::System
    }

    /// The system clock plus `offset` seconds, read on every call.
    pub fn with_offset(offset: Arc<AtomicI64>) -> Self {
        Clock::Offset(offset)
    }

    /// A clock stuck at `unix_secs`.
    pub fn fixed(unix_secs: i64) -> Self {
        Clock::Fixed(unix_secs)
    }

    /// A clock starting at `unix_secs`, moved with the returned handle.
    pub fn manual(unix_secs: i64) -> (Self, ManualClock) {
        let cell = Arc::new(AtomicI64::new(unix_secs));
        (Clock::Manual(cell.clone()), ManualClock(cell))
    }

    /// Current time in Unix seconds.
    pub fn now(&self) -> i64 {
        match self {
            Clock::System => system_now(),
            Clock::Fixed(t) => *t,
            Clock::Manual(cell) => cell.load(Ordering::Relaxed),
            Clock::Offset(offset) => system_now().saturating_add(offset.load(Ordering::Relaxed)),
        }
    }

    /// True unless this is the system clock.
    pub fn is_overridden(&self) -> bool {
        !matches!(self, Clock::System)
    }

    /// Logs a warning when the clock is not the system clock: a fixed clock in production makes
    /// every token look expired (or never expire) — a real, recurring outage cause.
    pub fn warn_if_not_system(&self) {
        if self.is_overridden() {
            tracing::warn!(
                target: "authsec::config",
                now = self.now(),
                system_now = system_now(),
                "authsec is using a fixed/manual clock instead of the system clock; \
                 token expiry is judged against it. Remove the clock override outside tests."
            );
        }
    }
}

/// The system clock in Unix seconds (0 if the clock is before 1970).
pub fn system_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_when_advanced() {
        let (clock, handle) = Clock::manual(1_000);
        handle.advance(61);
        assert_eq!(clock.now(), 1_061);
        handle.set(5);
        assert_eq!(clock.now(), 5);
        assert!(clock.is_overridden());
    }

    #[test]
    fn an_offset_clock_follows_the_system_clock_shifted() {
        let offset = Arc::new(AtomicI64::new(3_600));
        let clock = Clock::with_offset(offset.clone());
        assert!((clock.now() - system_now() - 3_600).abs() <= 1);
        offset.store(-60, Ordering::Relaxed);
        assert!((clock.now() - system_now() + 60).abs() <= 1);
        assert!(clock.is_overridden());
    }

    #[test]
    fn system_clock_is_not_overridden() {
        assert!(!Clock::System.is_overridden());
        assert!(Clock::System.now() > 1_700_000_000);
    }
}
