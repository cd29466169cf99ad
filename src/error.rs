//! The few kinds of failure that callers and the exit code branch on, and SPEC.md's exit codes.
//!
//! Errors travel as `anyhow::Error`. Code that knows *what kind* of failure it hit wraps it in a
//! [`Failure`] (usually through the helpers below); `main` walks the cause chain once, picks the
//! exit code from the first `Failure` it finds (or from a PostgreSQL error's SQLSTATE), and
//! prints the whole chain on one line.

use std::fmt;

/// SPEC.md's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 2: bad usage or bad input; nothing was written.
    Usage,
    /// 3: the id, e-mail or file named does not exist.
    NotFound,
    /// 4: cannot reach or log in to the database.
    Connect,
    /// 5: conflict: duplicate, insufficient stock, forbidden change, a held lock.
    Conflict,
    /// 130: interrupted (Ctrl-C, SIGINT).
    Interrupted,
    /// 143: ended by SIGTERM.
    Terminated,
    /// 129: ended by SIGHUP.
    HungUp,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Usage => 2,
            Kind::NotFound => 3,
            Kind::Connect => 4,
            Kind::Conflict => 5,
            Kind::Interrupted => 130,
            Kind::Terminated => 143,
            Kind::HungUp => 129,
        }
    }
}

/// How a command that ran to its end exits. Most commands only ever succeed and return `()`;
/// the few whose result is a verdict (`db health`, `db check`, `db schema diff`, `db migrate
/// status --exit-code`) return an `ExitStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus(u8);

impl ExitStatus {
    pub const SUCCESS: ExitStatus = ExitStatus(0);
    /// 1: the command found what it looks for (a violation, drift, a pending migration).
    pub const FOUND: ExitStatus = ExitStatus(1);

    pub const fn new(code: u8) -> Self {
        ExitStatus(code)
    }

    pub fn code(self) -> u8 {
        self.0
    }
}

impl From<()> for ExitStatus {
    fn from((): ()) -> Self {
        ExitStatus::SUCCESS
    }
}

/// A failure whose kind decides the exit code. Its message is what the user reads.
#[derive(Debug)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl Failure {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

/// Bad usage or bad input (exit 2).
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Failure::new(Kind::Usage, message).into()
}

/// Something named does not exist (exit 3).
pub fn not_found(message: impl Into<String>) -> anyhow::Error {
    Failure::new(Kind::NotFound, message).into()
}

/// Cannot reach or log in to the database (exit 4).
pub fn connect(message: impl Into<String>) -> anyhow::Error {
    Failure::new(Kind::Connect, message).into()
}

/// A conflict: duplicate, held lock, forbidden change (exit 5).
pub fn conflict(message: impl Into<String>) -> anyhow::Error {
    Failure::new(Kind::Conflict, message).into()
}

/// The kind of an error: the first [`Failure`] in its chain, else what a PostgreSQL error's
/// SQLSTATE says, else `None` (a plain failure, exit 1).
pub fn kind_of(err: &anyhow::Error) -> Option<Kind> {
    // A Failure given as anyhow context is found by anyhow's own downcast (chain() shows context
    // only as text); one that is the source of another error, through the chain.
    if let Some(f) = err.downcast_ref::<Failure>() {
        return Some(f.kind);
    }
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            return Some(f.kind);
        }
    }
    for cause in err.chain() {
        if let Some(pg) = cause.downcast_ref::<tokio_postgres::Error>() {
            if let Some(kind) = pg.code().and_then(|c| kind_of_sqlstate(c.code())) {
                return Some(kind);
            }
            if pg.is_closed() {
                return Some(Kind::Connect);
            }
        }
    }
    None
}

/// Maps the SQLSTATEs that have an exit code of their own.
fn kind_of_sqlstate(code: &str) -> Option<Kind> {
    match code {
        // connection exceptions, invalid authorization, unknown database, too many connections,
        // the server starting up or shutting down
        c if c.starts_with("08") || c.starts_with("28") => Some(Kind::Connect),
        "3D000" | "53300" | "57P01" | "57P02" | "57P03" => Some(Kind::Connect),
        // unique violation, lock not available, serialization failure, deadlock
        "23505" | "55P03" | "40001" | "40P01" => Some(Kind::Conflict),
        _ => None,
    }
}

/// The exit code for an error that reached `main`.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    kind_of(err).map_or(1, Kind::exit_code)
}

/// Whether the error is a closed pipe on our output (`crm ... | head`): not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(is_closed_pipe)
}

/// A `BrokenPipe` I/O error, also when wrapped: the CSV writer's errors reach us as an
/// `io::Error` of kind `Other` around a `csv::Error` around the real one, and `io::Error`'s
/// `source()` skips the error it wraps, so `chain()` alone never sees it.
fn is_closed_pipe(cause: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(io) = cause.downcast_ref::<std::io::Error>() {
        return io.kind() == std::io::ErrorKind::BrokenPipe
            || io.get_ref().is_some_and(|inner| is_closed_pipe(inner));
    }
    if let Some(csv) = cause.downcast_ref::<csv::Error>()
        && let csv::ErrorKind::Io(io) = csv.kind()
    {
        return is_closed_pipe(io);
    }
    false
}

/// The whole cause chain on one line, as `main` prints it after `error: `.
///
/// A PostgreSQL error shows the server's message with its detail and hint rather than
/// tokio-postgres's bare "db error".
pub fn render(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = if let Some(pg) = cause.downcast_ref::<tokio_postgres::Error>() {
            match pg.as_db_error() {
                Some(db) => {
                    let mut s = db.message().to_string();
                    if let Some(detail) = db.detail() {
                        s.push_str(&format!(" ({detail})"));
                    }
                    if db.code() == &tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE {
                        if let Some(place) = db.where_() {
                            s.push_str(&format!(" ({place})"));
                        }
                        let ms = crate::session::lock_timeout_ms();
                        if ms > 0 {
                            s.push_str(&format!(
                                ": another session held the lock for more than {} \
                                 (--lock-timeout, CRM_LOCK_TIMEOUT)",
                                shown_ms(ms)
                            ));
                        }
                    }
                    if let Some(hint) = db.hint() {
                        s.push_str(&format!("; hint: {hint}"));
                    } else if db.code() == &tokio_postgres::error::SqlState::UNDEFINED_TABLE {
                        // The usual cause: a database crm has not migrated yet.
                        s.push_str(
                            " (is the database migrated? crm db migrate status shows what is \
                             applied, crm db migrate applies the rest)",
                        );
                    }
                    s
                }
                None if pg.is_closed() => "the server closed the connection (it stopped, \
                                          restarted, or ended this session)"
                    .to_string(),
                None => pg.to_string(),
            }
        } else if cause
            .downcast_ref::<tokio_postgres::error::DbError>()
            .is_some()
        {
            // Already rendered from its tokio_postgres::Error wrapper.
            continue;
        } else {
            cause.to_string()
        };
        // anyhow's context often repeats the inner message; do not print it twice.
        if parts.last().is_some_and(|last| last.ends_with(&text)) || text.is_empty() {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ")
}

/// `500 ms`, `30 s`.
fn shown_ms(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn first_failure_in_the_chain_decides_the_exit_code() {
        let err = Err::<(), _>(not_found("user 7 does not exist"))
            .context("cannot show user")
            .unwrap_err();
        assert_eq!(exit_code(&err), 3);
        assert_eq!(render(&err), "cannot show user: user 7 does not exist");
    }

    #[test]
    fn a_failure_given_as_context_decides_the_exit_code() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let err = anyhow::Error::from(io).context(Failure::new(Kind::Connect, "cannot connect"));
        assert_eq!(exit_code(&err), 4);
        let err = err.context("cannot show the status");
        assert_eq!(exit_code(&err), 4);
        assert_eq!(
            render(&err),
            "cannot show the status: cannot connect: connection refused"
        );
    }

    #[test]
    fn plain_errors_exit_1() {
        let err = anyhow::anyhow!("disk full");
        assert_eq!(exit_code(&err), 1);
    }

    #[test]
    fn broken_pipe_is_recognised_through_context() {
        let io = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let err = anyhow::Error::from(io).context("cannot write output");
        assert!(is_broken_pipe(&err));
    }

    /// What `?` makes of the CSV writer's error: an `io::Error` of kind `Other`.
    #[test]
    fn broken_pipe_is_recognised_inside_a_csv_error() {
        let mut writer = csv::Writer::from_writer(ClosedPipe);
        let csv = writer
            .write_record(["a"])
            .and_then(|()| writer.flush().map_err(csv::Error::from))
            .unwrap_err();
        let io = std::io::Error::from(csv);
        assert_eq!(io.kind(), std::io::ErrorKind::Other);
        let err = anyhow::Error::from(io).context("cannot list customers");
        assert!(is_broken_pipe(&err));
        assert!(!is_broken_pipe(&anyhow::Error::from(
            std::io::Error::other("disk full")
        )));
    }

    struct ClosedPipe;

    impl std::io::Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
    }
}
