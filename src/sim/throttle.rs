//! ARM's token-bucket throttling (limits.md §1.1): per subscription, separate buckets for reads, writes and deletes,
//! plus the global buckets 15× as large shared by all principals.
//!
//! Owns the bucket arithmetic only; refill is computed from the simulator's clock at each request (no timers). It
//! must not build responses: [`super::api`] turns a refusal into a 429.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Kind of request as ARM counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// GET/HEAD.
    Read,
    /// PUT/PATCH/POST.
    Write,
    /// DELETE.
    Delete,
}

impl Kind {
    /// From an HTTP method.
    pub fn of(method: &str) -> Self {
        match method {
            "GET" | "HEAD" => Kind::Read,
            "DELETE" => Kind::Delete,
            _ => Kind::Write,
        }
    }
    /// `reads`, `writes`, `deletes` as in the header names.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Read => "reads",
            Kind::Write => "writes",
            Kind::Delete => "deletes",
        }
    }
    /// `(capacity, refill per second)` of the per-subscription bucket.
    pub fn limits(self) -> (f64, f64) {
        match self {
            Kind::Read => (250.0, 25.0),
            Kind::Write => (200.0, 10.0),
            Kind::Delete => (200.0, 10.0),
        }
    }
}

/// Multiplier of the global subscription buckets.
pub const GLOBAL_FACTOR: f64 = 15.0;

/// One token bucket.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Bucket {
    /// Tokens left.
    pub tokens: f64,
    /// When `tokens` was last brought up to date.
    pub at: OffsetDateTime,
}

impl Bucket {
    fn refill(&mut self, now: OffsetDateTime, cap: f64, rate: f64) {
        if now > self.at {
            self.tokens = (self.tokens + (now - self.at).as_seconds_f64() * rate).min(cap);
            self.at = now;
        }
    }
}

/// The six buckets of one subscription (per-principal and global for each kind).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Buckets {
    /// reads, writes, deletes.
    pub local: [Bucket; 3],
    /// global reads, writes, deletes.
    pub global: [Bucket; 3],
}

impl Buckets {
    /// Full buckets at `now`.
    pub fn new(now: OffsetDateTime) -> Self {
        let mk = |k: Kind, f: f64| Bucket {
            tokens: k.limits().0 * f,
            at: now,
        };
        Self {
            local: [
                mk(Kind::Read, 1.0),
                mk(Kind::Write, 1.0),
                mk(Kind::Delete, 1.0),
            ],
            global: [
                mk(Kind::Read, GLOBAL_FACTOR),
                mk(Kind::Write, GLOBAL_FACTOR),
                mk(Kind::Delete, GLOBAL_FACTOR),
            ],
        }
    }

    /// Takes one token of `kind`. `Ok((remaining, global_remaining))` or `Err(retry_after_secs)`.
    pub fn take(&mut self, kind: Kind, now: OffsetDateTime) -> Result<(u64, u64), u64> {
        let i = kind as usize;
        let (cap, rate) = kind.limits();
        self.local[i].refill(now, cap, rate);
        self.global[i].refill(now, cap * GLOBAL_FACTOR, rate * GLOBAL_FACTOR);
        if self.local[i].tokens < 1.0 || self.global[i].tokens < 1.0 {
            let missing = 1.0
                - self.local[i]
                    .tokens
                    .min(self.global[i].tokens / GLOBAL_FACTOR);
            return Err((missing / rate).ceil().max(1.0) as u64);
        }
        self.local[i].tokens -= 1.0;
        self.global[i].tokens -= 1.0;
        Ok((
            self.local[i].tokens.floor() as u64,
            self.global[i].tokens.floor() as u64,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn reads_empty_after_250_and_refill_25_per_second() {
        let t0 = datetime!(2026-01-01 00:00 UTC);
        let mut b = Buckets::new(t0);
        for i in 0..250 {
            assert_eq!(b.take(Kind::Read, t0).map(|r| r.0), Ok(249 - i));
        }
        assert_eq!(b.take(Kind::Read, t0), Err(1));
        let t1 = t0 + time::Duration::seconds(1);
        for _ in 0..25 {
            assert!(b.take(Kind::Read, t1).is_ok());
        }
        assert!(b.take(Kind::Read, t1).is_err());
        // Writes have their own bucket.
        assert_eq!(b.take(Kind::Write, t1).map(|r| r.0), Ok(199));
    }
}
