//! Signals that end a run: Ctrl-C (SIGINT), SIGTERM (what systemd, `timeout` and `kill` send)
//! and SIGHUP (a closed terminal), each with its own exit code (130, 143, 129).
//!
//! `main` listens for them once, for the whole run ([`listen`]). By default a signal ends the
//! command at once: its future is dropped, which kills the tools it started and closes its
//! connections, so the server rolls back any open transaction. A command with work outside a
//! transaction to undo (a database being restored) holds a [`Cleanup`] meanwhile and watches
//! [`requested`] itself; `main` then waits for it to undo that work and return the signal's
//! error (a second signal stops the wait).

use crate::error::{Failure, Kind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// A signal that ends a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
    HangUp,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT (Ctrl-C)",
            Signal::Terminate => "SIGTERM",
            Signal::HangUp => "SIGHUP",
        }
    }

    /// The error a run that it ended fails with; its kind gives the exit code.
    pub fn error(self) -> anyhow::Error {
        self.error_saying("")
    }

    /// [`Signal::error`], with `then` (what became of the work) after its message.
    pub fn error_saying(self, then: &str) -> anyhow::Error {
        let kind = match self {
            Signal::Interrupt => Kind::Interrupted,
            Signal::Terminate => Kind::Terminated,
            Signal::HangUp => Kind::HungUp,
        };
        Failure::new(kind, format!("interrupted by {}{then}", self.name())).into()
    }
}

fn state() -> &'static watch::Sender<Option<Signal>> {
    static STATE: OnceLock<watch::Sender<Option<Signal>>> = OnceLock::new();
    STATE.get_or_init(|| watch::Sender::new(None))
}

static CLEANING: AtomicUsize = AtomicUsize::new(0);

/// Listens for the signals (from the first call on) and returns each as it arrives, after
/// recording the first for [`requested`]. For `main` only.
pub struct Listener {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hang_up: tokio::signal::unix::Signal,
}

pub fn listen() -> std::io::Result<Listener> {
    Ok(Listener {
        interrupt: signal(SignalKind::interrupt())?,
        terminate: signal(SignalKind::terminate())?,
        hang_up: signal(SignalKind::hangup())?,
    })
}

impl Listener {
    pub async fn next(&mut self) -> Signal {
        let received = tokio::select! {
            _ = self.interrupt.recv() => Signal::Interrupt,
            _ = self.terminate.recv() => Signal::Terminate,
            _ = self.hang_up.recv() => Signal::HangUp,
        };
        state().send_if_modified(|first| {
            let unset = first.is_none();
            if unset {
                *first = Some(received);
            }
            unset
        });
        received
    }
}

/// The first signal the run received, once it has (at once if it already has).
pub async fn requested() -> Signal {
    let mut watching = state().subscribe();
    loop {
        if let Some(signal) = *watching.borrow_and_update() {
            return signal;
        }
        if watching.changed().await.is_err() {
            // The sender lives in a static and is never dropped.
            std::future::pending::<()>().await;
        }
    }
}

/// The first signal the run received, if any.
pub fn pending() -> Option<Signal> {
    *state().borrow()
}

/// Held while a command has work to undo if a signal arrives, which it watches for itself.
pub struct Cleanup(());

impl Cleanup {
    pub fn hold() -> Cleanup {
        CLEANING.fetch_add(1, Ordering::SeqCst);
        Cleanup(())
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        CLEANING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether the command undoes its own work on a signal, so that `main` should wait for it.
pub fn cleaning_up() -> bool {
    CLEANING.load(Ordering::SeqCst) > 0
}
