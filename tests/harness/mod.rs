//! The harness every integration test uses, modelled on crates.io's test database and ripgrep's
//! test runner: [`server`] is a throwaway PostgreSQL cluster of this test process's own (or the
//! server named by `CRM_TEST_DATABASE_URL`), [`TestDb`] a fresh database on it for one test, and
//! [`crm`] runs the real binary in a clean environment and, when an assertion fails, prints the
//! command, its exit status, stdout and stderr. [`assert_restore_refused`] is what every refused
//! restore must leave as it was; [`insert_user`] and [`create_user`] make the users a test starts
//! from; [`wait_until`] and [`wait_for`] wait for what happens asynchronously. [`PgBouncer`]
//! puts a pooler in transaction mode in front of the server.
//!
//! Environment: `CRM_TEST_DATABASE_URL` (a superuser URL) uses that server instead of starting
//! one, with `CRM_TEST_SOCKET_DIR` (default `/var/run/postgresql`) for its Unix socket;
//! `CRM_TEST_SCHEMA=app` runs the tests on the original application's schema instead of crm's;
//! `CRM_TEST_KEEP_CLUSTER=1` keeps the throwaway cluster, and the databases of failed tests on
//! it, after the tests end.

// A toolkit: not every helper has a caller in every state of the test suite.
#![allow(dead_code, unused_imports)]

mod cluster;
mod crm;
mod database;
mod pgbouncer;
mod private;
mod restore;
mod role;
mod standby;
mod tls;
mod users;
mod wait;

pub use cluster::{Server, free_port, server};
pub use crm::{Crm, Output, crm, crm_on_terminal, redact};
pub use database::{
    APP_FIXTURE, Schema, TABLES, TestDb, count, label_type, row_json, sql, table_exists,
};
pub use pgbouncer::PgBouncer;
pub use private::PrivateServer;
pub use restore::{
    LiveDatabase, assert_restore_refused, checksums, databases_like, run_leaving_no_scratch,
};
pub use role::TestRole;
pub use standby::Standby;
pub use tls::{TlsServer, tls_server};
pub use users::{create_user, insert_user};
pub use wait::{wait_for, wait_until};
