//! A per-client-address rate limit for what anyone may do without a
//! credential (starting a sign-in): a token bucket per address, kept in
//! memory. A dozen lines of arithmetic; the rate-limiting crates bring
//! clocks, sharded maps and futures the server does not need.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses tracked at most; past it, the buckets that are full again
/// (their clients quiet) are forgotten.
const MAX_TRACKED: usize = 100_000;

pub struct RateLimit {
    /// Requests a client may make at once.
    burst: f64,
    /// Requests a client regains per second.
    per_second: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimit {
    pub fn new(burst: u32, every: Duration) -> Self {
        RateLimit {
            burst: f64::from(burst.max(1)),
            per_second: 1.0 / every.as_secs_f64().max(0.001),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `addr`'s bucket: `Err(wait)` when it is
    /// empty, with how long until the next request is allowed.
    pub fn check(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() >= MAX_TRACKED {
            let (burst, rate) = (self.burst, self.per_second);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(addr).or_insert((self.burst, now));
        let refilled = (*tokens
            + now.saturating_duration_since(*at).as_secs_f64() * self.per_second)
            .min(self.burst);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(Duration::from_secs_f64((1.0 - refilled) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let limit = RateLimit::new(3, Duration::from_secs(2));
        let (a, b): (IpAddr, IpAddr) = ([127, 0, 0, 1].into(), [127, 0, 0, 2].into());
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limit.check(a, t0).is_ok());
        }
        let wait = limit.check(a, t0).err();
        assert!(wait.is_some_and(|w| w > Duration::from_millis(1900)));
        assert!(
            limit.check(b, t0).is_ok(),
            "another address has its own bucket"
        );
        assert!(limit.check(a, t0 + Duration::from_secs(2)).is_ok());
        assert!(limit.check(a, t0 + Duration::from_secs(2)).is_err());
    }
}
