//! The run's settings that layers below the context read: the lock timeout every connection
//! gets, which an error about a lock that timed out also names. Set once, from the global
//! options, when the context is built.

use std::sync::atomic::{AtomicU64, Ordering};

static LOCK_TIMEOUT_MS: AtomicU64 = AtomicU64::new(0);

/// `--lock-timeout`: every connection of the run gets it as its `lock_timeout`, so that a cron
/// job never waits forever on a lock that someone forgot to release.
pub fn set_lock_timeout_ms(ms: u64) {
    LOCK_TIMEOUT_MS.store(ms, Ordering::Relaxed);
}

/// The run's lock timeout in milliseconds; 0 waits forever.
pub fn lock_timeout_ms() -> u64 {
    LOCK_TIMEOUT_MS.load(Ordering::Relaxed)
}
