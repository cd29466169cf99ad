//! crm's integration tests, all in one binary as ripgrep's are: each module runs the real `crm`
//! against a real PostgreSQL server through the harness, one fresh database per test.

mod app_role;
mod architecture;
mod arguments;
mod backup;
mod check;
mod connect;
mod corpus;
mod customers;
mod dedupe;
mod faults;
mod harness;
mod harness_selftest;
mod health;
mod hostile;
mod local;
mod maintain;
mod migrate;
mod notify;
mod orders;
mod output;
mod pooler;
mod products;
mod replicas;
mod replication;
mod reports;
mod schema;
mod schema_diff;
mod seed;
mod tls;
mod transfer;
mod users;
