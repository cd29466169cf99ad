//! Arguments of `crm orders` and `crm notify` as people type them (issue 15): a negative number
//! after a flag is a value to judge, not an unknown flag; an e-mail or a word where an id goes
//! says what was expected; `--since`/`--until` take relative times as `--older-than` does.

use crate::harness::TestDb;

/// `crm ARGS` is refused with exit 2 and `message` on stderr.
fn refused(db: &TestDb, args: &[&str], message: &str) {
    db.crm()
        .args(args)
        .run()
        .assert_code(2)
        .assert_stderr_contains(message);
}

#[test]
fn orders_and_notify_say_what_a_bad_number_or_id_is() {
    let db = TestDb::migrated();
    refused(
        &db,
        &["orders", "show", "john.doe@example.com"],
        "invalid value 'john.doe@example.com' for '<ID>': expected an order id (a whole number)",
    );
    refused(
        &db,
        &["orders", "cancel", "first"],
        "expected an order id (a whole number)",
    );
    refused(
        &db,
        &["orders", "set-status", "1.5", "completed"],
        "expected an order id (a whole number)",
    );
    refused(
        &db,
        &["orders", "list", "--customer", "john.doe@example.com"],
        "invalid value 'john.doe@example.com' for '--customer <ID>': expected a customer id (a \
         whole number); to find a customer by e-mail: crm customers list --search \
         john.doe@example.com",
    );
    refused(
        &db,
        &[
            "orders",
            "create",
            "--customer",
            "ada@example.com",
            "--item",
            "1:1",
        ],
        "to find a customer by e-mail: crm customers list --search ada@example.com",
    );
    refused(
        &db,
        &["orders", "create", "--customer", "1", "--item", "-1:2"],
        "invalid value '-1:2' for '--item <PRODUCT:QTY>': the product id must be at least 1, got -1",
    );
    refused(
        &db,
        &["orders", "list", "--limit", "-5"],
        "invalid value '-5' for '--limit <N>': expected a whole number of at least 1, got -5",
    );
    refused(
        &db,
        &["orders", "list", "--offset", "-5"],
        "expected a whole number of at least 0, got -5",
    );
    refused(
        &db,
        &["orders", "report", "customers", "--limit", "-2"],
        "invalid value '-2' for '--limit <N>': expected a whole number of at least 1, got -2",
    );
    refused(
        &db,
        &["orders", "report", "products", "--limit", "0"],
        "expected a whole number of at least 1, got 0",
    );
    refused(
        &db,
        &["notify", "show", "latest"],
        "invalid value 'latest' for '<ID>': expected a notification id (a whole number)",
    );
    refused(
        &db,
        &["notify", "read", "latest", "--user", "1"],
        "expected a notification id (a whole number)",
    );
    refused(
        &db,
        &["notify", "list", "--limit", "-1"],
        "expected a whole number of at least 1, got -1",
    );
    refused(
        &db,
        &["notify", "low-stock", "--threshold", "-4"],
        "invalid value '-4' for '--threshold <N>': must not be negative, got -4",
    );
    refused(
        &db,
        &["notify", "prune", "--older-than", "-3d"],
        "invalid value '-3d' for '--older-than <AGE>': not an age: \"-3d\"",
    );
    refused(
        &db,
        &["notify", "stale-orders", "--older-than", "-1h"],
        "invalid value '-1h' for '--older-than <AGE>': not an age",
    );
    // A negative id is one that does not exist.
    db.crm()
        .args(["orders", "show", "-1"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("order -1");
    db.crm()
        .args(["notify", "show", "-1"])
        .run()
        .assert_code(3)
        .assert_stderr_contains("notification -1");
}
