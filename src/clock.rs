//! Time as the engine sees it: the current instant and a way to wait.
//!
//! Everything that waits (LRO polling, `Retry-After`, throttling back-off, lock retries) or stamps a time goes
//! through a [`Clock`], so that tests run on virtual time and never sleep on the wall clock. This module owns the
//! trait and the two clocks that are not the simulator's: [`SystemClock`] for real Azure, and [`ScaledClock`], which
//! maps tokio's clock onto a simulated timeline at a speed factor. Under a paused tokio runtime
//! (`#[tokio::test(start_paused = true)]`) a [`ScaledClock`] is fully virtual: sleeps return as soon as every task
//! is waiting, and time jumps. It must not know about ARM or ASR.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

/// A source of the current time and of waits measured on the same timeline.
#[async_trait::async_trait]
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant on this clock's timeline.
    fn now(&self) -> OffsetDateTime;
    /// Waits until `duration` has passed on this clock's timeline.
    async fn sleep(&self, duration: Duration);
}

/// The machine's clock: real Azure runs on it.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[async_trait::async_trait]
impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// A simulated timeline that starts at `origin` and advances `speed` times as fast as tokio's clock, plus whatever
/// [`ScaledClock::advance`] adds. With `speed = 60`, one real second is one simulated minute; in a paused tokio
/// runtime the timeline is virtual whatever the speed.
#[derive(Debug)]
pub struct ScaledClock {
    origin: OffsetDateTime,
    started: tokio::time::Instant,
    speed: f64,
    /// Explicit steps (`sim advance 30m`, test steps) on top of the scaled elapsed time.
    offset: Mutex<Duration>,
}

impl ScaledClock {
    /// A timeline at `origin` now, running `speed` times tokio's clock. `speed` must be positive.
    pub fn new(origin: OffsetDateTime, speed: f64) -> Self {
        assert!(
            speed > 0.0 && speed.is_finite(),
            "clock speed must be a positive number"
        );
        Self {
            origin,
            started: tokio::time::Instant::now(),
            speed,
            offset: Mutex::new(Duration::ZERO),
        }
    }

    /// Moves the timeline forward by `by` at once.
    pub fn advance(&self, by: Duration) {
        *self.offset.lock().expect("clock offset lock") += by;
    }

    /// The speed factor.
    pub fn speed(&self) -> f64 {
        self.speed
    }
}

#[async_trait::async_trait]
impl Clock for ScaledClock {
    fn now(&self) -> OffsetDateTime {
        let elapsed = self.started.elapsed().mul_f64(self.speed);
        self.origin + elapsed + *self.offset.lock().expect("clock offset lock")
    }
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration.div_f64(self.speed)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[tokio::test(start_paused = true)]
    async fn scaled_clock_is_virtual_under_paused_tokio() {
        let clock = ScaledClock::new(datetime!(2026-01-01 00:00 UTC), 60.0);
        let wall = std::time::Instant::now();
        clock.sleep(Duration::from_secs(3600)).await;
        assert_eq!(clock.now(), datetime!(2026-01-01 01:00 UTC));
        assert!(
            wall.elapsed() < Duration::from_secs(1),
            "must not sleep on the wall clock"
        );
        clock.advance(Duration::from_secs(30));
        assert_eq!(clock.now(), datetime!(2026-01-01 01:00:30 UTC));
    }
}
