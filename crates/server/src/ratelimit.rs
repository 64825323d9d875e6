//! Rate limits per client IP and per owner (`security.rate_limit`): a token bucket each
//! (generic cell rate algorithm, the `governor` crate), `burst` requests at once refilled at
//! `per_*` a second. Checked by the auth middleware once the owner is known; a spent bucket is a
//! 429 with `Retry-After`.

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use crate::config::RateLimitSettings;

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// Keys whose buckets are kept before the full ones are dropped.
const MAX_KEYS: usize = 100_000;

/// The limiters the settings turn on.
pub struct RateLimits {
    per_ip: Option<Keyed<IpAddr>>,
    per_owner: Option<Keyed<String>>,
    /// Take the client address from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
}

fn limiter<K: Hash + Eq + Clone>(rate: u32, burst: Option<u32>) -> Option<Keyed<K>> {
    let rate = NonZeroU32::new(rate)?;
    let burst = burst
        .and_then(NonZeroU32::new)
        .unwrap_or_else(|| rate.saturating_mul(NonZeroU32::MIN.saturating_add(1)));
    Some(RateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

fn check<K: Hash + Eq + Clone>(limiter: &Keyed<K>, key: &K) -> Result<(), Duration> {
    if limiter.len() > MAX_KEYS {
        limiter.retain_recent();
    }
    limiter
        .check_key(key)
        .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

impl RateLimits {
    /// The limits `settings` describe (none when both rates are 0).
    pub fn from_settings(settings: &RateLimitSettings) -> Self {
        RateLimits {
            per_ip: limiter(settings.per_ip, settings.burst),
            per_owner: limiter(settings.per_owner, settings.burst),
            trust_forwarded_for: settings.trust_forwarded_for,
        }
    }

    /// Count one request from `ip` (before its credential is checked).
    ///
    /// # Errors
    /// How long until a request would be allowed.
    pub fn check_ip(&self, ip: Option<IpAddr>) -> Result<(), Duration> {
        match (&self.per_ip, ip) {
            (Some(limiter), Some(ip)) => check(limiter, &ip),
            _ => Ok(()),
        }
    }

    /// Count one request of `owner`.
    ///
    /// # Errors
    /// How long until a request would be allowed.
    pub fn check_owner(&self, owner: &str) -> Result<(), Duration> {
        match &self.per_owner {
            Some(limiter) => check(limiter, &owner.to_owned()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_bucket_says_how_long_to_wait_and_keys_are_apart() {
        let limits = RateLimits::from_settings(&RateLimitSettings {
            per_ip: 0,
            per_owner: 1,
            burst: Some(2),
            trust_forwarded_for: false,
        });
        assert!(limits.check_owner("a").is_ok());
        assert!(limits.check_owner("a").is_ok());
        let wait = limits.check_owner("a").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(
            limits.check_owner("b").is_ok(),
            "another owner has its own bucket"
        );
        let off = RateLimits::from_settings(&RateLimitSettings::default());
        for _ in 0..1000 {
            assert!(off.check_ip(Some(IpAddr::from([127, 0, 0, 1]))).is_ok());
            assert!(off.check_owner("a").is_ok());
        }
    }
}
