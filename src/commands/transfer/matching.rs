//! The rules `crm customers duplicates` compares customers by, shared with import's
//! `--dedupe-report`: the least similarities, each reason's weight in a score, and the keys as
//! SQL. They live here, below both, because `commands::customers` depends on
//! `commands::transfer` (its import and export), never the other way.

/// The least similarity of two full names for the `name` rule.
pub const NAME_SIMILARITY: f64 = 0.5;

/// How similar two e-mails' local parts (same domain) must be for their customers' names to be
/// compared: the e-mail-neighbour block.
pub const LOCAL_PART_SIMILARITY: f64 = 0.4;

/// The weight of each reason in a pair's score, `1 - Π(1 - w)` (a similar name weighs its
/// similarity).
pub const SAME_EMAIL: f64 = 0.9;
pub const SAME_PHONE: f64 = 0.8;
pub const SAME_ADDRESS: f64 = 0.5;

/// The rules' keys as SQL over other commands' expressions (import's `--dedupe-report`),
/// spelled as `customers duplicates` spells them. The `*_indexed` forms are the V13 indexes'
/// expressions over `"Customers"` columns, so that a comparison with them is an index lookup.
pub mod keys {
    /// The e-mail's key: trimmed and lower-cased; NULL when empty.
    pub fn email(expr: &str) -> String {
        format!("nullif(lower(btrim({expr})), '')")
    }

    /// A customer's e-mail as `customers_email_key_idx` has it.
    pub fn email_indexed(expr: &str) -> String {
        format!("lower(btrim({expr}))")
    }

    /// The phone's key: its last ten digits; NULL with fewer than seven digits.
    pub fn phone(expr: &str) -> String {
        format!(
            "CASE WHEN length(regexp_replace({expr}, '\\D', '', 'g')) >= 7 \
             THEN right(regexp_replace({expr}, '\\D', '', 'g'), 10) END"
        )
    }

    /// A customer's phone as `customers_phone_key_idx` has it.
    pub fn phone_indexed(expr: &str) -> String {
        format!("right(regexp_replace({expr}, '\\D', '', 'g'), 10)")
    }

    /// The full name the `name` rule compares (as `customers_full_name_trgm_idx` has it).
    pub fn full_name(first: &str, last: &str) -> String {
        format!("coalesce({first}, '') || ' ' || coalesce({last}, '')")
    }
}
