//! Transactions as several command groups run them: a read-only snapshot for reads that must
//! agree with themselves, and the retry of a whole transaction that lost a serialization race
//! or a deadlock.

use anyhow::{Context as _, Result};
use tokio_postgres::{GenericClient, IsolationLevel};

/// Gives the transaction `tx` is in the run's lock timeout when a connection pooler stands
/// between, which does not pass it on to the session as crm's startup options do: every
/// transaction that writes calls this first. Without a pooler the session has it already.
pub async fn bound_locks<C: GenericClient>(tx: &C) -> Result<()> {
    if crate::session::pooled() {
        let ms = crate::session::lock_timeout_ms();
        super::batch_execute(tx, &format!("SET LOCAL lock_timeout = {ms}"))
            .await
            .context("cannot set the transaction's lock timeout")?;
    }
    Ok(())
}

/// A read-only transaction that sees one snapshot, for `show`s that read in several statements
/// and must agree with themselves (an order count and the orders listed).
pub async fn snapshot(
    client: &mut deadpool_postgres::Object,
) -> Result<deadpool_postgres::Transaction<'_>> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .context("cannot start a read-only transaction")
}

/// How many times a transaction is run in all when it loses a serialization race or is chosen
/// as a deadlock's victim. crm locks rows in a fixed order, so this is a safety net for locks
/// that other clients take in another order.
const ATTEMPTS: u32 = 5;

/// Runs `attempt` (one whole transaction) again when PostgreSQL aborted it with a
/// serialization failure (40001) or a deadlock (40P01), up to [`ATTEMPTS`] times, waiting a
/// little longer each time. The last failure is exit 1, as any database error.
pub async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if is_transient(&e) => {
                if tries == ATTEMPTS {
                    // Rendered to text: its SQLSTATE would make it a conflict (exit 5), and it is
                    // not one the user can resolve by changing the request.
                    return Err(anyhow::anyhow!(
                        "{} (gave up after {ATTEMPTS} attempts)",
                        crate::error::render(&e)
                    ));
                }
                let pause = 10 * u64::from(tries) + u64::from(std::process::id() % 10);
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                tries += 1;
            }
            other => return other,
        }
    }
}

/// Whether an error is a serialization failure or a deadlock, which a retry can cure.
fn is_transient(e: &anyhow::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.chain().any(|cause| {
        cause
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(tokio_postgres::Error::code)
            .is_some_and(|c| {
                *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
            })
    })
}
