//! The injectable clock.
//!
//! Production uses [`Clock::System`]. Tests pin or step time with [`Clock::fixed`] and
//! [`Clock::manual`]. A non-system clock outside tests is the troubleshooting guide's
//! "you set Now to a fixed time" trap, so [`Clock::warn_if_not_system`] logs it at start-up.
//! The clock is shared with the console (`authsec-proto`).

pub use authsec_proto::{system_now, Clock, ManualClock};
