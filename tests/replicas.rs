//! Read replicas (`--read-url`, `CRM_READ_URL`, `--max-lag`) against the real pieces: a private
//! primary and a streaming standby of it. Where a command read is shown by what it printed:
//! with the standby's replay paused, a row written on the primary since is missing from what the
//! standby serves and present in what the primary serves.

use crate::harness::{Output, PrivateServer, Standby, crm, free_port, wait_for};
use serde_json::Value as Json;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// A customer and a product with stock, on the primary.
const CATALOGUE: &str = r#"
INSERT INTO "Customers" ("firstName", "lastName", "email", "createdAt", "updatedAt")
  VALUES ('Ada', 'Lovelace', 'ada@example.com', now(), now());
INSERT INTO "Products" ("name", "price", "stock", "createdAt", "updatedAt")
  VALUES ('Notebook', 2.50, 100, now(), now());
"#;

/// A primary with the catalogue and one order, and a standby that has replayed them.
fn replicated() -> (PrivateServer, Standby) {
    let primary = PrivateServer::start("");
    let standby = Standby::of(&primary);
    primary.client("crm").batch_execute(CATALOGUE).unwrap();
    primary
        .crm()
        .args(["orders", "create", "--customer", "1", "--item", "1:1"])
        .run()
        .assert_success();
    wait_for(
        &mut standby.client("crm"),
        r#"SELECT count(*) = 1 FROM "Orders""#,
        "the standby to replay the first order",
        LIMIT,
    );
    (primary, standby)
}

/// Pauses the standby's replay, and waits until it has.
fn pause_replay(standby: &Standby) {
    let mut client = standby.client("crm");
    client
        .batch_execute("SELECT pg_wal_replay_pause()")
        .unwrap();
    wait_for(
        &mut client,
        "SELECT pg_get_wal_replay_pause_state() = 'paused'",
        "replay to pause",
        LIMIT,
    );
}

/// Waits until the standby has received WAL that it does not replay: it is behind.
fn wait_behind(standby: &Standby) {
    wait_for(
        &mut standby.client("crm"),
        "SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()",
        "the standby to receive WAL it does not replay",
        LIMIT,
    );
}

/// `host:port/crm` of the standby, as crm names it.
fn place(standby: &Standby) -> String {
    format!("127.0.0.1:{}/crm", standby.port)
}

/// The ids of the orders a CSV export printed.
fn exported_ids(out: &Output) -> Vec<String> {
    out.stdout
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap_or_default().to_string())
        .collect()
}

/// How many pending orders `orders report sales` counted.
fn reported_orders(out: &Output) -> i64 {
    let rows: Vec<Json> = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("the report printed no JSON array: {e}\n\n{out}"));
    rows.iter().map(|r| r["orders"].as_i64().unwrap_or(0)).sum()
}

fn order_count(client: &mut postgres::Client) -> i64 {
    client
        .query_one(r#"SELECT count(*) FROM "Orders""#, &[])
        .unwrap()
        .get(0)
}

#[test]
fn reads_come_from_a_replica_within_max_lag_and_writes_go_to_the_primary() {
    let (primary, standby) = replicated();
    let read = standby.url("crm");
    pause_replay(&standby);

    // A write with a read URL given goes to the primary (the standby would refuse it).
    primary
        .crm()
        .args(["--read-url", &read, "orders", "create"])
        .args(["--customer", "1", "--item", "1:2"])
        .run()
        .assert_success();
    assert_eq!(order_count(&mut primary.client("crm")), 2);
    assert_eq!(order_count(&mut standby.client("crm")), 1);
    // And an order total broken behind crm's back, which only the primary has.
    primary
        .client("crm")
        .batch_execute(r#"UPDATE "Orders" SET "total" = 99 WHERE "id" = 2"#)
        .unwrap();
    wait_behind(&standby);

    // Within --max-lag the standby serves the reads: it lacks the second order.
    let out = primary
        .crm()
        .args(["-v", "--read-url", &read, "--max-lag", "1h"])
        .args(["orders", "export"])
        .run();
    out.assert_success()
        .assert_stderr_contains(&format!("read: from replica {} (", place(&standby)));
    assert_eq!(exported_ids(&out), ["1"], "{out}");
    let out = primary
        .crm()
        .args(["--read-url", &read, "--max-lag", "1h", "-o", "json"])
        .args(["orders", "report", "sales", "--status", "pending"])
        .run();
    out.assert_success();
    assert_eq!(reported_orders(&out), 1, "{out}");
    primary
        .crm()
        .args(["--read-url", &read, "--max-lag", "1h", "-o", "csv"])
        .args(["orders", "list"])
        .run()
        .assert_success()
        .assert_stdout_contains("\n1,");
    primary
        .crm()
        .args(["--read-url", &read, "--max-lag", "1h"])
        .args(["orders", "show", "2"])
        .run()
        .assert_code(3);
    // db check reads there too, and finds nothing; --fix works on the primary, and finds and
    // repairs the broken total.
    primary
        .crm()
        .args(["-v", "--read-url", &read, "--max-lag", "1h", "db", "check"])
        .run()
        .assert_success()
        .assert_stderr_contains("read: from replica");
    let out = primary
        .crm()
        .args(["-v", "--read-url", &read, "--max-lag", "1h", "-o", "csv"])
        .args(["db", "check", "--fix"])
        .run();
    out.assert_success()
        .assert_stdout_contains("order-total,Orders,2,");
    assert!(!out.stderr.contains("read: from replica"), "{out}");

    // Once it is further behind than --max-lag, the standby is skipped with a notice and the
    // primary serves the reads: the second order is there.
    std::thread::sleep(Duration::from_secs(2));
    let out = primary
        .crm()
        .args(["-v", "--read-url", &read, "--max-lag", "1s"])
        .args(["orders", "export"])
        .run();
    out.assert_success()
        .assert_stderr_contains(&format!(
            "skipping read replica {}: it is ",
            place(&standby)
        ))
        .assert_stderr_contains(" s behind, more than --max-lag 1s")
        .assert_stderr_contains("no read replica is usable: reading from the primary")
        .assert_stderr_contains("read: from the primary");
    assert_eq!(exported_ids(&out), ["1", "2"], "{out}");
    let out = primary
        .crm()
        .args(["--read-url", &read, "--max-lag", "1s", "-o", "json"])
        .args(["orders", "report", "sales", "--status", "pending"])
        .run();
    out.assert_success()
        .assert_stderr_contains("skipping read replica");
    assert_eq!(reported_orders(&out), 2, "{out}");
    // -q silences the notice.
    let out = primary
        .crm()
        .args(["-q", "--read-url", &read, "--max-lag", "1s"])
        .args(["orders", "export"])
        .run();
    out.assert_success();
    assert_eq!(out.stderr, "", "{out}");

    // Resumed, the standby replays what was written on the primary, and is read again.
    standby
        .client("crm")
        .batch_execute("SELECT pg_wal_replay_resume()")
        .unwrap();
    wait_for(
        &mut standby.client("crm"),
        r#"SELECT count(*) = 2 AND sum("total") = 7.50 FROM "Orders""#,
        "the standby to replay the second order and its fix",
        LIMIT,
    );
    let out = primary
        .crm()
        .args(["-v", "--read-url", &read, "--max-lag", "1m"])
        .args(["orders", "export"])
        .run();
    out.assert_success()
        .assert_stderr_contains(&format!("read: from replica {} (", place(&standby)));
    assert_eq!(exported_ids(&out), ["1", "2"], "{out}");
}

#[test]
fn read_urls_are_tried_in_order_and_an_unreachable_one_is_skipped() {
    let primary = PrivateServer::start("");
    let standby = Standby::of(&primary);
    let down = format!("postgresql://postgres@127.0.0.1:{}/crm", free_port());
    let down_place = down
        .trim_start_matches("postgresql://postgres@")
        .to_string();

    // The first cannot be reached: a notice names it, and the second, the standby, serves.
    primary
        .crm()
        .args(["-v", "--read-url", &down, "--read-url", &standby.url("crm")])
        .args(["customers", "list"])
        .run()
        .assert_success()
        .assert_stderr_contains(&format!("skipping read replica {down_place}: "))
        .assert_stderr_contains(&format!("read: from replica {}", place(&standby)));

    // CRM_READ_URL: several URLs separated by white space, tried in order.
    primary
        .crm()
        .env("CRM_READ_URL", format!("{down} {}", standby.url("crm")))
        .args(["-v", "products", "list"])
        .run()
        .assert_success()
        .assert_stderr_contains(&format!("skipping read replica {down_place}: "))
        .assert_stderr_contains(&format!("read: from replica {}", place(&standby)));

    // A key=value string is one read URL.
    primary
        .crm()
        .env(
            "CRM_READ_URL",
            format!(
                "host=127.0.0.1 port={} user=postgres dbname=crm",
                standby.port
            ),
        )
        .args(["-v", "users", "list"])
        .run()
        .assert_success()
        .assert_stderr_contains(&format!("read: from replica {}", place(&standby)));

    // None usable: the primary serves, and says so.
    primary
        .crm()
        .args(["-v", "--read-url", &down, "customers", "export"])
        .run()
        .assert_success()
        .assert_stderr_contains("no read replica is usable: reading from the primary")
        .assert_stderr_contains("read: from the primary");

    // A read URL that is not valid is bad usage, naming where it came from.
    primary
        .crm()
        .args(["--read-url", "postgresql://h:port/crm", "customers", "list"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("invalid database URL (from --read-url or CRM_READ_URL)");

    // A command that only reads never connects to the primary when a replica serves it: it
    // works with the primary down, as long as the standby is within --max-lag.
    primary.stop();
    primary
        .crm()
        .args(["--read-url", &standby.url("crm"), "--max-lag", "1h"])
        .args(["orders", "report", "sales"])
        .run()
        .assert_success();
    primary
        .crm()
        .args(["orders", "report", "sales"])
        .run()
        .assert_code(4);
}

#[test]
fn a_backup_from_the_replica_dumps_the_standby() {
    let (primary, standby) = replicated();
    pause_replay(&standby);
    primary
        .client("crm")
        .batch_execute(
            r#"INSERT INTO "Customers" ("firstName", "email", "createdAt", "updatedAt")
               VALUES ('Grace', 'grace@example.com', now(), now())"#,
        )
        .unwrap();
    wait_behind(&standby);

    let dir = tempfile::tempdir().unwrap();
    let dir_text = dir.path().to_str().unwrap();
    // --from-replica without a read URL is bad usage.
    primary
        .crm()
        .args(["db", "backup", "--from-replica", "--dir", dir_text])
        .env_remove("CRM_READ_URL")
        .run()
        .assert_code(2)
        .assert_stderr_contains("--from-replica needs a read replica");

    primary
        .crm()
        .args(["-v", "--read-url", &standby.url("crm"), "--max-lag", "1h"])
        .args(["db", "backup", "--from-replica", "--dir", dir_text])
        .run()
        .assert_success()
        .assert_stderr_contains(&format!("read: from replica {}", place(&standby)));
    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "dump"))
        .expect("a backup file");

    // Restored, it holds what the standby had: not the customer added since replay paused.
    primary
        .crm()
        .args(["-q", "db", "restore", "--into", "from_standby"])
        .arg(&file)
        .run()
        .assert_success();
    let customers: i64 = primary
        .client("from_standby")
        .query_one(r#"SELECT count(*) FROM "Customers""#, &[])
        .unwrap()
        .get(0);
    assert_eq!(customers, 1);
}

#[test]
fn a_bad_max_lag_is_bad_usage_naming_the_flag() {
    crm()
        .args(["--max-lag", "5", "orders", "export"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("invalid value '5' for '--max-lag <DURATION>'")
        .assert_stderr_contains("a whole number and a unit ms, s, m or h");
    crm()
        .env("CRM_MAX_LAG", "soon")
        .args(["orders", "export"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("--max-lag");
}
