//! crm products (being written).
