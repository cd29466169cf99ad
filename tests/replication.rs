//! `crm db health` on a replicated cluster, against the real pieces: a private primary and a
//! streaming standby made from it by `pg_basebackup -R`. The replication checks say which
//! server is which, see the standby from the primary, go WARNING on a standby whose replay is
//! paused, on a slot nobody uses that holds WAL, and on an archive_command that fails.

use crate::harness::{Output, PrivateServer, Standby, wait_for};
use serde_json::Value as Json;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// `db health -o json ARGS` run by `crm`: its output and its rows.
fn health(mut crm: crate::harness::Crm, args: &[&str]) -> (Output, Vec<Json>) {
    let out = crm.args(["db", "health", "-o", "json"]).args(args).run();
    let rows: Vec<Json> = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("db health printed no JSON array: {e}\n\n{out}"));
    (out, rows)
}

fn row<'a>(rows: &'a [Json], name: &str) -> &'a Json {
    rows.iter()
        .find(|r| r["check"] == name)
        .unwrap_or_else(|| panic!("no row for check {name} in {rows:#?}"))
}

fn message(r: &Json) -> &str {
    r["message"].as_str().unwrap_or_default()
}

const REPLICATION_CHECKS: &str = "role,replication-lag,replay-delay,replication-slots,archiver";

#[test]
fn the_standby_is_seen_from_the_primary_and_goes_warning_when_its_replay_is_paused() {
    let primary = PrivateServer::start("wal_level = replica");
    let standby = Standby::of(&primary);

    let (out, rows) = health(primary.crm(), &["--check", REPLICATION_CHECKS]);
    out.assert_code(0);
    assert_eq!(row(&rows, "role")["value"], "primary", "{out}");
    let lag = row(&rows, "replication-lag");
    assert_eq!(lag["status"], "OK", "{out}");
    assert!(message(lag).starts_with("1 standby: "), "{lag}");
    assert!(message(lag).contains("streaming"), "{lag}");
    assert_eq!(message(row(&rows, "replay-delay")), "not a standby");
    assert_eq!(
        message(row(&rows, "archiver")),
        "archiving off (archive_mode = off)"
    );

    // Every check runs on a standby; the schema comparison, which needs a scratch database,
    // is skipped there. (The cache of a fresh standby is cold: cache-hit is left out.)
    let (out, rows) = health(standby.crm(), &["--exclude", "cache-hit"]);
    out.assert_code(0);
    let schema = row(&rows, "schema");
    assert_eq!(schema["value"], "skipped", "{schema}");
    assert!(message(schema).contains("check the primary"), "{schema}");
    assert_eq!(row(&rows, "replay-delay")["status"], "OK", "{out}");
    let (out, _) = health(standby.crm(), &["--check", "schema"]);
    out.assert_code(3);

    // A role without pg_monitor sees the standby but not its positions: UNKNOWN, with the hint.
    primary
        .client("postgres")
        .batch_execute("CREATE ROLE watcher LOGIN")
        .unwrap();
    let mut watcher = crate::harness::crm();
    watcher.args([
        "--database-url",
        &format!("postgresql://watcher@127.0.0.1:{}/crm", primary.port),
    ]);
    let (out, rows) = health(watcher, &["--check", "replication-lag"]);
    out.assert_code(3);
    let lag = row(&rows, "replication-lag");
    assert_eq!(lag["status"], "UNKNOWN", "{out}");
    assert!(
        message(lag)
            .ends_with("the positions of 1 standby are not visible: grant pg_monitor to watcher"),
        "{lag}"
    );

    let (out, rows) = health(
        standby.crm(),
        &["--check", "role,replication-lag,replay-delay"],
    );
    out.assert_code(0);
    assert_eq!(row(&rows, "role")["value"], "standby", "{out}");
    assert_eq!(message(row(&rows, "replication-lag")), "no standbys");
    assert_eq!(row(&rows, "replay-delay")["status"], "OK", "{out}");

    // A transaction replayed, then replay paused, then more written on the primary: the
    // standby receives it and does not replay it.
    let mut writer = primary.client("crm");
    writer
        .batch_execute("CREATE TABLE replicated (n int); INSERT INTO replicated VALUES (1)")
        .unwrap();
    let mut reader = standby.client("crm");
    wait_for(
        &mut reader,
        "SELECT to_regclass('replicated') IS NOT NULL",
        "the standby to replay the first write",
        LIMIT,
    );
    reader
        .batch_execute("SELECT pg_wal_replay_pause()")
        .unwrap();
    wait_for(
        &mut reader,
        "SELECT pg_get_wal_replay_pause_state() = 'paused'",
        "replay to pause",
        LIMIT,
    );
    writer
        .batch_execute("INSERT INTO replicated SELECT generate_series(2, 1000)")
        .unwrap();
    wait_for(
        &mut reader,
        "SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()",
        "the standby to receive WAL it does not replay",
        LIMIT,
    );

    let (out, rows) = health(
        standby.crm(),
        &["--check", "replay-delay", "--warning", "replay-delay=1ms"],
    );
    out.assert_code(1);
    let delay = row(&rows, "replay-delay");
    assert_eq!(delay["status"], "WARNING", "{out}");
    assert!(message(delay).starts_with("replay is paused"), "{delay}");
    assert!(
        message(delay).contains("received but not replayed"),
        "{delay}"
    );

    // Paused is WARNING whatever the threshold: a standby that replays nothing falls behind.
    let (out, rows) = health(standby.crm(), &["--check", "replay-delay"]);
    out.assert_code(1);
    assert_eq!(row(&rows, "replay-delay")["status"], "WARNING", "{out}");

    reader
        .batch_execute("SELECT pg_wal_replay_resume()")
        .unwrap();
    wait_for(
        &mut reader,
        "SELECT pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn()",
        "the standby to catch up",
        LIMIT,
    );
    let (out, rows) = health(standby.crm(), &["--check", "replay-delay"]);
    out.assert_code(0);
    assert!(
        message(row(&rows, "replay-delay")).starts_with("replayed all WAL received"),
        "{out}"
    );

    // Its primary gone, the standby has replayed all it received, and says it receives nothing.
    primary.stop();
    wait_for(
        &mut reader,
        "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')",
        "the standby's WAL receiver to stop streaming",
        LIMIT,
    );
    let (out, rows) = health(standby.crm(), &["--check", "replay-delay"]);
    out.assert_code(0);
    assert!(
        message(row(&rows, "replay-delay")).ends_with("no WAL receiver streaming from a primary"),
        "{out}"
    );
}

#[test]
fn an_inactive_slot_holding_wal_and_a_failing_archiver_go_warning() {
    let primary =
        PrivateServer::start("wal_level = replica\narchive_mode = on\narchive_command = 'false'");
    let mut client = primary.client("crm");
    let (out, rows) = health(primary.crm(), &["--check", "replication-slots"]);
    out.assert_code(0);
    assert_eq!(
        message(row(&rows, "replication-slots")),
        "no replication slots"
    );

    client
        .batch_execute(
            "SELECT pg_create_physical_replication_slot('idle', true); \
             CREATE TABLE filler AS SELECT generate_series(1, 100000) AS n; \
             SELECT pg_switch_wal()",
        )
        .unwrap();
    // Under the default 1 GiB: OK, still named.
    let (out, rows) = health(primary.crm(), &["--check", "replication-slots"]);
    out.assert_code(0);
    assert!(message(row(&rows, "replication-slots")).contains("idle (physical) holds"));

    let (out, rows) = health(
        primary.crm(),
        &[
            "--check",
            "replication-slots",
            "--warning",
            "replication-slots=1MB",
        ],
    );
    out.assert_code(1);
    let slots = row(&rows, "replication-slots");
    assert_eq!(slots["status"], "WARNING", "{out}");
    assert!(
        message(slots).starts_with("1 slot inactive: idle (physical) holds "),
        "{slots}"
    );
    assert_eq!(slots["warning"], "1.0 MiB", "{slots}");

    wait_for(
        &mut client,
        "SELECT failed_count > 0 FROM pg_stat_archiver",
        "archive_command to fail",
        LIMIT,
    );
    let (out, rows) = health(primary.crm(), &["--check", "archiver"]);
    out.assert_code(1);
    let archiver = row(&rows, "archiver");
    assert_eq!(archiver["status"], "WARNING", "{out}");
    assert!(
        message(archiver).starts_with("archiving is failing: "),
        "{archiver}"
    );
    assert!(message(archiver).contains("no success yet"), "{archiver}");
}
