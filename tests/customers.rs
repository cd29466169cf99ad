//! crm customers (being written).
