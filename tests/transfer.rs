//! crm transfer (being written).
