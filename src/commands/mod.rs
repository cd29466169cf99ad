//! One module per command group, each owning its SQL; and the mechanisms they share.

pub mod confirm;
pub mod customers;
pub mod db;
pub mod listing;
pub mod notify;
pub mod orders;
pub mod products;
pub mod record;
pub mod table;
pub mod transfer;
pub mod users;
