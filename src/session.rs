//! The run's settings that layers below the context read: the lock timeout every connection
//! gets, which an error about a lock that timed out also names, set once from the global options
//! when the context is built; and whether a connection pooler stands between, set when a
//! connection finds one.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static LOCK_TIMEOUT_MS: AtomicU64 = AtomicU64::new(0);
static POOLED: AtomicBool = AtomicBool::new(false);

/// `--lock-timeout`: every connection of the run gets it as its `lock_timeout`, so that a cron
/// job never waits forever on a lock that someone forgot to release.
pub fn set_lock_timeout_ms(ms: u64) {
    LOCK_TIMEOUT_MS.store(ms, Ordering::Relaxed);
}

/// The run's lock timeout in milliseconds; 0 waits forever.
pub fn lock_timeout_ms() -> u64 {
    LOCK_TIMEOUT_MS.load(Ordering::Relaxed)
}

/// A connection of the run goes through a connection pooler, which does not pass the lock
/// timeout on to the server: each transaction then sets it itself.
pub fn set_pooled() {
    POOLED.store(true, Ordering::Relaxed);
}

/// Whether a connection of the run goes through a pooler.
pub fn pooled() -> bool {
    POOLED.load(Ordering::Relaxed)
}
