//! crm's integration tests, all in one binary as ripgrep's are: each module runs the real `crm`
//! against a real PostgreSQL server through the harness, one fresh database per test.

mod check;
mod connect;
mod customers;
mod harness;
mod harness_selftest;
mod local;
mod migrate;
mod notify;
mod orders;
mod output;
mod products;
mod reports;
mod schema;
mod seed;
mod transfer;
mod users;
