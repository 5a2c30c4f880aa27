//! Time, injected: every part of the server that decides by time reads it from the broker's
//! [`Clock`], never from the system directly. Monotonic time (deadlines) is tokio's, so that
//! tests that pause tokio's time (`#[tokio::test(start_paused = true)]`, `advance`) move every
//! deadline; wall-clock time (timestamps stored or sent) is the system's, or in tests a fixed
//! start plus tokio's elapsed time, so that it moves with paused time too.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct Clock {
    /// What monotonic milliseconds count from.
    start: Instant,
    /// `None`: the system's wall clock. `Some(ms)`: wall-clock time is `ms` at `start` and
    /// moves with tokio's clock.
    wall_at_start_ms: Option<i64>,
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

/// Milliseconds since the Unix epoch, from the system.
fn system_wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Clock {
    /// The system's clocks.
    pub fn system() -> Self {
        Self {
            start: Instant::now(),
            wall_at_start_ms: None,
        }
    }

    /// A clock whose wall time starts at `wall_ms` and moves only as tokio's time does: with
    /// tokio's time paused, nothing moves until a test advances it.
    pub fn starting_at(wall_ms: i64) -> Self {
        Self {
            start: Instant::now(),
            wall_at_start_ms: Some(wall_ms),
        }
    }

    /// Monotonic milliseconds since the clock was made (deadlines).
    pub fn monotonic_ms(&self) -> i64 {
        i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    /// Wall-clock milliseconds since the Unix epoch (timestamps stored or sent).
    pub fn wall_ms(&self) -> i64 {
        match self.wall_at_start_ms {
            None => system_wall_ms(),
            Some(start) => start.saturating_add(self.monotonic_ms()),
        }
    }

    /// The instant at monotonic millisecond `ms`, for tokio's timers.
    pub fn instant_at(&self, ms: i64) -> Instant {
        self.start + std::time::Duration::from_millis(u64::try_from(ms.max(0)).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_test_clock_moves_only_with_tokios_time() {
        let clock = Clock::starting_at(1_000_000);
        assert_eq!((clock.monotonic_ms(), clock.wall_ms()), (0, 1_000_000));
        tokio::time::advance(std::time::Duration::from_millis(2500)).await;
        assert_eq!((clock.monotonic_ms(), clock.wall_ms()), (2500, 1_002_500));
        assert_eq!(clock.instant_at(2500), Instant::now());
    }

    #[test]
    fn the_system_clock_reads_the_system() {
        let clock = Clock::system();
        let now = system_wall_ms();
        assert!((clock.wall_ms() - now).abs() < 60_000);
    }
}
