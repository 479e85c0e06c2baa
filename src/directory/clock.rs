//! The wall clock the directory reads: when a resource was created or
//! modified, when a session, a sign-in or a login link expires, when a
//! cursor was issued. The server owns one ([`Clock::system`]); a test
//! holds a [`Clock::manual`] and moves it instead of sleeping.
//!
//! Everything else in the crate is kept from reading the wall clock on its
//! own by clippy's `disallowed-methods` (clippy.toml); monotonic time
//! (`Instant`) for timeouts and latencies is not wall time and is allowed.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

use crate::scim::resource::format_time;

/// A wall clock: the system's, or the system's moved forward by a test.
/// Cheap to clone; clones share one offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Milliseconds added to the system time; `None` for the system clock,
    /// which cannot be moved.
    offset_ms: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system's clock.
    pub fn system() -> Self {
        Clock { offset_ms: None }
    }

    /// A clock that starts at the system's time and that [`Clock::advance`]
    /// moves forward (for tests).
    pub fn manual() -> Self {
        Clock {
            offset_ms: Some(Arc::new(AtomicI64::new(0))),
        }
    }

    /// Now.
    #[allow(clippy::disallowed_methods)] // the one reading of the wall clock
    pub fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        match &self.offset_ms {
            None => now,
            Some(o) => now + Duration::milliseconds(o.load(Ordering::Relaxed)),
        }
    }

    /// Now, as the directory stores times (RFC 3339, UTC, milliseconds).
    pub fn rfc3339(&self) -> String {
        format_time(self.now())
    }

    /// Moves a manual clock forward; the system clock does not move, and
    /// says so.
    pub fn advance(&self, by: std::time::Duration) -> Result<(), &'static str> {
        let Some(o) = &self.offset_ms else {
            return Err("the system clock cannot be moved");
        };
        let ms = i64::try_from(by.as_millis()).map_err(|_| "too far")?;
        o.fetch_add(ms, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_manual_clock_moves_and_its_clones_with_it() {
        let c = Clock::manual();
        let twin = c.clone();
        let before = c.now();
        c.advance(std::time::Duration::from_secs(3600)).unwrap();
        let after = twin.now();
        assert!(after - before >= Duration::seconds(3600));
        assert!(after - before < Duration::seconds(3660));
    }

    #[test]
    fn the_system_clock_does_not_move() {
        let c = Clock::system();
        assert!(c.advance(std::time::Duration::from_secs(1)).is_err());
    }
}
