//! crm users (being written).
