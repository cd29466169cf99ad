//! Waiting for what happens asynchronously (the server's statistics, a session of crm's coming
//! to wait for a lock, a file a child process writes), the one polling loop every test uses:
//! it checks first and sleeps after, so a condition that already holds costs nothing, and it
//! fails the test, saying what it waited for, when the time limit passes first.

use std::thread;
use std::time::{Duration, Instant};

/// How often a condition is checked again.
const POLL: Duration = Duration::from_millis(20);

/// Checks `done` until it returns true; fails the test naming `what` once `limit` has passed.
#[track_caller]
pub fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        thread::sleep(POLL);
    }
}

/// Runs `query`, a query returning one boolean, on `client` until it returns true; fails the
/// test naming `what` (and the query) once `limit` has passed.
#[track_caller]
pub fn wait_for(client: &mut postgres::Client, query: &str, what: &str, limit: Duration) {
    wait_until(limit, &format!("{what} ({query})"), || {
        client
            .query_one(query, &[])
            .unwrap_or_else(|e| panic!("cannot run {query}: {e:?}"))
            .get::<_, bool>(0)
    });
}
