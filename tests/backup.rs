//! `crm db backup`, `db backup list|verify` and `db restore`: a round trip gives back every row,
//! a failed backup leaves nothing and removes nothing, a bad file never touches the live
//! database, and retention removes only crm's own old backups.
//!
//! Every table is compared by its row count and an MD5 of its sorted rows (the harness's
//! `checksums`), and every refused restore is checked by the harness's `assert_restore_refused`.
//! Databases are cluster-wide: a test drops the databases a restore kept or created
//! ([`DropDb`]), and looks only at databases named after its own test database, since other
//! tests run beside it.

use crate::harness::{
    LiveDatabase, Output, TestDb, TestRole, assert_restore_refused, checksums, crm,
    crm_on_terminal, databases_like, free_port, run_leaving_no_scratch, server, sql, wait_until,
};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Backups start from check's clean data set (a few rows in every crm table, every invariant
/// holding); its notification gets a JSON value, so that jsonb makes the round trip too.
const NOTIFICATION_DATA: &str = r#"UPDATE "Notifications" SET "data" = '{"orderId": 1}'"#;

/// What happens to the data after the backup: a row of each kind deleted, inserted, updated.
const CHANGE: &str = r#"
DELETE FROM "OrderItems" WHERE "id" = 5;
DELETE FROM "UserNotifications";
INSERT INTO "Customers" ("firstName", "lastName", "email", "createdAt", "updatedAt")
  VALUES ('Linus', 'Torvalds', 'linus@example.com', now(), now());
UPDATE "Products" SET "price" = 0.25 WHERE "id" = 1;
UPDATE "Users" SET "lastName" = 'Changed' WHERE "id" = 2;
"#;

/// A database of the test server that is dropped when the test ends, however it ends.
struct DropDb(String);

impl Drop for DropDb {
    fn drop(&mut self) {
        let _ = server().admin_client().batch_execute(&format!(
            r#"DROP DATABASE IF EXISTS {} WITH (FORCE)"#,
            quoted(&self.0)
        ));
    }
}

/// `name` as an SQL identifier: in double quotes, a double quote doubled.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A migrated database with check's clean data set and [`NOTIFICATION_DATA`] in it.
fn filled() -> TestDb {
    let db = TestDb::migrated();
    sql(&db, crate::check::CLEAN);
    sql(&db, NOTIFICATION_DATA);
    db
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The `backup_*` files of `dir` that are not manifests, sorted.
fn backups_in(dir: &Path) -> Vec<String> {
    listing(dir)
        .into_iter()
        .filter(|n| n.starts_with("backup_") && !n.ends_with(".manifest.json"))
        .collect()
}

/// Runs a good `crm db backup` into `dir` that removes nothing, and returns the new file.
fn backup(db: &TestDb, dir: &Path) -> PathBuf {
    let before = backups_in(dir);
    db.crm()
        .args(["--quiet", "db", "backup", "--keep-min", "1000", "--dir"])
        .arg(dir)
        .run()
        .assert_success();
    let new: Vec<String> = backups_in(dir)
        .into_iter()
        .filter(|n| !before.contains(n))
        .collect();
    assert_eq!(new.len(), 1, "one new backup in {}: {new:?}", dir.display());
    dir.join(&new[0])
}

fn manifest_of(backup: &Path) -> PathBuf {
    let mut name = backup.file_name().unwrap().to_os_string();
    name.push(".manifest.json");
    backup.with_file_name(name)
}

/// Rewrites the manifest beside `backup`: `createdAt` `days` ago, and `database` if given.
fn rewrite_manifest(backup: &Path, days: i64, database: Option<&str>) {
    let path = manifest_of(backup);
    let mut json: serde_json::Value = serde_json::from_str(&fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let when = time::OffsetDateTime::now_utc() - time::Duration::days(days);
    json["createdAt"] = serde_json::Value::String(
        when.format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
    );
    if let Some(database) = database {
        json["database"] = serde_json::Value::String(database.to_string());
    }
    fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
}

/// Copies `from` into `dir` as `name`, its manifest too when `with_manifest`.
fn copy_backup(from: &Path, dir: &Path, name: &str, with_manifest: bool) -> PathBuf {
    let to = dir.join(name);
    fs::copy(from, &to).unwrap();
    if with_manifest {
        fs::copy(manifest_of(from), manifest_of(&to)).unwrap();
    }
    to
}

/// A plain dump made the way the reference's script makes it: `pg_dump -f x.sql`, then gzip.
/// `edit` may change the SQL before it is compressed.
fn reference_dump(db: &TestDb, dir: &Path, edit: impl FnOnce(String) -> String) -> PathBuf {
    let plain = dir.join("backup_20250701_093000.sql");
    let status = std::process::Command::new("pg_dump")
        .arg("-d")
        .arg(db.url())
        .arg("-f")
        .arg(&plain)
        .status()
        .expect("run pg_dump");
    assert!(status.success(), "pg_dump failed");
    let text = edit(fs::read_to_string(&plain).unwrap());
    fs::write(&plain, text).unwrap();
    let status = std::process::Command::new("gzip")
        .arg(&plain)
        .status()
        .expect("run gzip");
    assert!(status.success(), "gzip failed");
    dir.join("backup_20250701_093000.sql.gz")
}

/// A folder holding an executable `pg_dump` with `body` after its shebang, and a PATH with it
/// first.
fn fake_pg_dump(body: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("pg_dump");
    fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (dir, path)
}

/// Answers `--version` as the real pg_dump does.
const ANSWERS_VERSION: &str =
    r#"if [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) 15.18"; exit 0; fi"#;

/// A backup folder with two crm backups of `db` made 60 days ago, which a retention of
/// `--keep-min 0 --keep-days 1` would remove.
fn planted(db: &TestDb) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let old = backup(db, dir.path());
        rewrite_manifest(&old, 60, None);
    }
    dir
}

/// The failed run left the folder as it was (the lock file aside), with no temporary file.
#[track_caller]
fn assert_untouched(dir: &Path, before: &[String], out: &Output) {
    assert_ne!(out.code(), 0, "the backup must fail\n{out}");
    let without_lock = |names: Vec<String>| -> Vec<String> {
        names
            .into_iter()
            .filter(|n| n != ".crm-backup.lock")
            .collect()
    };
    let after = without_lock(listing(dir));
    assert_eq!(
        after,
        without_lock(before.to_vec()),
        "the folder changed\n{out}"
    );
    assert!(!after.iter().any(|n| n.ends_with(".partial")), "{after:?}");
}

fn failing_backup_args(dir: &Path) -> Vec<String> {
    [
        "db",
        "backup",
        "--keep-min",
        "0",
        "--keep-days",
        "1",
        "--dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([dir.display().to_string()])
    .collect()
}

#[test]
fn a_backup_and_a_restore_give_back_every_row_and_keep_the_old_database() {
    let db = filled();
    let at_backup = checksums(&db.name);
    let dir = tempfile::tempdir().unwrap();
    let file = backup(&db, dir.path());

    sql(&db, CHANGE);
    let changed = checksums(&db.name);
    assert_ne!(changed, at_backup);

    // An application's session on the live database is ended by the swap.
    let mut idle = db.client();
    let out = db.crm().args(["db", "restore", "--yes"]).arg(&file).run();
    assert!(
        idle.simple_query("SELECT 1").is_err(),
        "a session stayed on the replaced database"
    );
    out.assert_success()
        .assert_stderr_contains("To go back: ALTER DATABASE")
        .assert_stdout_eq("");
    let kept = databases_like(&format!("{}_before_restore_", db.name));
    assert_eq!(kept.len(), 1, "{kept:?}\n{out}");
    let _kept = DropDb(kept[0].clone());
    assert!(
        out.stderr
            .contains(&format!("the previous database is kept as \"{}\"", kept[0])),
        "{out}"
    );
    assert_eq!(checksums(&db.name), at_backup);
    assert_eq!(checksums(&kept[0]), changed);
    assert_eq!(databases_like(&db.name), [db.name.clone(), kept[0].clone()]);

    // The way back the message gives works: the changed data is live again.
    let back = out
        .stderr
        .split_once("To go back: ")
        .and_then(|(_, rest)| rest.split_once(" (run from another database"))
        .map(|(statements, _)| statements.to_string())
        .unwrap_or_else(|| panic!("no way back in the message\n{out}"));
    let restored = databases_like(&format!("{}_restoring_", db.name));
    assert_eq!(restored.len(), 0, "{restored:?}");
    let mut admin = server().admin_client();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&db.name],
        )
        .unwrap();
    admin
        .batch_execute(&back)
        .unwrap_or_else(|e| panic!("{back}: {e:?}"));
    let restored = databases_like(&format!("{}_restoring_", db.name));
    assert_eq!(restored.len(), 1, "{restored:?}");
    let _restored = DropDb(restored[0].clone());
    assert_eq!(checksums(&db.name), changed);
    assert_eq!(checksums(&restored[0]), at_backup);
}

/// The way back that a restore prints is SQL to paste as it is, whatever the database's name:
/// here one with a quote, a space, `=` and a double quote.
#[test]
fn the_way_back_after_a_restore_runs_as_printed_for_a_database_with_quotes_in_its_name() {
    let db = TestDb::migrated();
    let live = format!("we'ird db=x\"q_{}", &db.name[2..10]);
    // In a URL, the name is percent-encoded.
    let url = server().admin_url(
        &live
            .replace('\'', "%27")
            .replace(' ', "%20")
            .replace('=', "%3D")
            .replace('"', "%22"),
    );
    let at = |url: &str| {
        url.rsplit_once('/')
            .map(|(_, name)| name.to_string())
            .unwrap()
    };
    server()
        .admin_client()
        .batch_execute(&format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quoted(&live),
            quoted(&db.name)
        ))
        .unwrap();
    let _live = DropDb(live.clone());
    let mut client = server().connect(&url);
    client.batch_execute(crate::check::CLEAN).unwrap();
    drop(client);
    let at_backup = checksums(&at(&url));

    let dir = tempfile::tempdir().unwrap();
    crm()
        .arg("--database-url")
        .arg(&url)
        .args(["-q", "db", "backup", "--dir"])
        .arg(dir.path())
        .run()
        .assert_success();
    let file = dir.path().join(&backups_in(dir.path())[0]);
    server().connect(&url).batch_execute(CHANGE).unwrap();
    let changed = checksums(&at(&url));
    // What an earlier restore that was cut short left, which the warning tells how to drop.
    let leftover = format!("{live}_restoring_20200101_000000");
    let _leftover = DropDb(leftover.clone());
    server()
        .admin_client()
        .batch_execute(&format!("CREATE DATABASE {}", quoted(&leftover)))
        .unwrap();

    let out = crm()
        .arg("--database-url")
        .arg(&url)
        .args(["db", "restore", "--yes"])
        .arg(&file)
        .run();
    out.assert_success();
    let kept = databases_like(&format!("{live}_before_restore_"));
    assert_eq!(kept.len(), 1, "{kept:?}\n{out}");
    let _kept = DropDb(kept[0].clone());
    let restoring = kept[0].replace("_before_restore_", "_restoring_");
    let _restoring = DropDb(restoring.clone());
    out.assert_stderr_contains(&format!(
        "To go back: ALTER DATABASE {live} RENAME TO {restoring}; ALTER DATABASE {kept} RENAME TO \
         {live}; (run from another database, e.g. psql -d postgres). To reclaim its space once \
         satisfied: DROP DATABASE {kept};",
        live = quoted(&live),
        restoring = quoted(&restoring),
        kept = quoted(&kept[0]),
    ));
    assert_eq!(checksums(&at(&url)), at_backup);
    let drop_leftover = format!("DROP DATABASE {};", quoted(&leftover));
    out.assert_stderr_contains(&format!("drop it: {drop_leftover}"));
    server()
        .admin_client()
        .batch_execute(&drop_leftover)
        .unwrap_or_else(|e| panic!("{drop_leftover}: {e:?}"));

    // Pasted as printed, it puts the changed data back.
    let back = out
        .stderr
        .split_once("To go back: ")
        .and_then(|(_, rest)| rest.split_once(" (run from another database"))
        .map(|(statements, _)| statements.to_string())
        .unwrap_or_else(|| panic!("no way back in the message\n{out}"));
    let mut admin = server().admin_client();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&live],
        )
        .unwrap();
    admin
        .batch_execute(&back)
        .unwrap_or_else(|e| panic!("{back}: {e:?}"));
    assert_eq!(checksums(&at(&url)), changed);
    assert_eq!(databases_like(&live), [live.clone(), restoring]);
}

#[test]
fn a_restore_into_a_new_database_leaves_the_live_one_untouched() {
    let db = filled();
    let at_backup = checksums(&db.name);
    let dir = tempfile::tempdir().unwrap();
    let file = backup(&db, dir.path());
    sql(&db, CHANGE);
    let changed = checksums(&db.name);

    let copy = format!("{}_copy", db.name);
    let _copy = DropDb(copy.clone());
    db.crm()
        .args(["db", "restore", "--into", &copy])
        .arg(&file)
        .run()
        .assert_success()
        .assert_stderr_contains(&format!("into new database \"{copy}\""));
    assert_eq!(checksums(&copy), at_backup);
    assert_eq!(checksums(&db.name), changed);

    // Into a database that exists: a conflict, and neither is touched.
    assert_restore_refused(
        &db,
        &["db", "restore", "--into", &copy],
        &file,
        5,
        &format!("database \"{copy}\" already exists"),
    );
    assert_eq!(checksums(&copy), at_backup);
    assert_eq!(checksums(&db.name), changed);
    assert_eq!(databases_like(&db.name), [db.name.clone(), copy.clone()]);
}

#[test]
fn a_backup_with_a_wrong_password_leaves_no_file_and_removes_nothing() {
    let db = filled();
    let dir = planted(&db);
    let before = listing(dir.path());
    let role = TestRole::create(
        &db,
        "pw",
        "SUPERUSER PASSWORD 'right-pass' IN ROLE password_users",
    );
    let url = format!(
        "postgresql://{}@127.0.0.1:{}/{}",
        role.0,
        server().port,
        db.name
    );
    let out = crm()
        .env("PGPASSWORD", "wrong-pass")
        .args(["--database-url", &url])
        .args(failing_backup_args(dir.path()))
        .run();
    out.assert_code(4)
        .assert_stderr_contains("password authentication failed");
    assert!(!out.stderr.contains("wrong-pass"), "{out}");
    assert_untouched(dir.path(), &before, &out);

    // crm's own connection succeeds, and pg_dump's is refused: a wrapper gives the real
    // pg_dump a wrong password.
    let real = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("pg_dump"))
        .find(|p| p.is_file())
        .expect("pg_dump on PATH");
    let (_bin, path) = fake_pg_dump(&format!(
        "if [ \"$1\" = \"--version\" ]; then exec {real} --version; fi\n\
         PGPASSWORD=wrong-pass exec {real} \"$@\"",
        real = real.display()
    ));
    let out = crm()
        .env("PGPASSWORD", "right-pass")
        .env("PATH", &path)
        .args(["--database-url", &url])
        .args(failing_backup_args(dir.path()))
        .run();
    out.assert_code(4)
        .assert_stderr_contains("pg_dump failed")
        .assert_stderr_contains("password authentication failed");
    assert!(!out.stderr.contains("-pass"), "{out}");
    assert_untouched(dir.path(), &before, &out);
}

#[test]
fn a_backup_of_a_server_that_is_down_exits_4_and_leaves_no_file() {
    let db = filled();
    let dir = planted(&db);
    let before = listing(dir.path());
    let url = format!(
        "postgresql://postgres@127.0.0.1:{}/{}",
        free_port(),
        db.name
    );
    let out = crm()
        .args(["--database-url", &url])
        .args(failing_backup_args(dir.path()))
        .run();
    out.assert_code(4);
    assert_untouched(dir.path(), &before, &out);
}

#[test]
fn a_failing_pg_dump_leaves_no_file_and_removes_nothing() {
    let db = filled();
    let dir = planted(&db);
    let before = listing(dir.path());

    let (_bin, path) = fake_pg_dump(&format!(
        "{ANSWERS_VERSION}\necho 'pg_dump: error: query failed: out of disk' >&2\nexit 1"
    ));
    let out = db
        .crm()
        .env("PATH", &path)
        .args(failing_backup_args(dir.path()))
        .run();
    out.assert_code(1)
        .assert_stderr_contains("pg_dump failed (exit status 1)")
        .assert_stderr_contains("out of disk")
        .assert_stderr_contains("no old backup was removed");
    assert_untouched(dir.path(), &before, &out);

    // Half a file, then a failure: the half is not kept either.
    let (_bin, path) = fake_pg_dump(&format!(
        "{ANSWERS_VERSION}\n\
         while [ $# -gt 0 ]; do if [ \"$1\" = --file ]; then shift; out=\"$1\"; fi; shift; done\n\
         head -c 2000 {} > \"$out\"\n\
         echo 'pg_dump: error: connection lost' >&2\nexit 1",
        dir.path().join(&backups_in(dir.path())[0]).display()
    ));
    let out = db
        .crm()
        .env("PATH", &path)
        .args(failing_backup_args(dir.path()))
        .run();
    out.assert_code(1).assert_stderr_contains("connection lost");
    assert_untouched(dir.path(), &before, &out);

    // Half a file and success, as a pipe into gzip reports: the read-back catches it.
    let (_bin, path) = fake_pg_dump(&format!(
        "{ANSWERS_VERSION}\n\
         while [ $# -gt 0 ]; do if [ \"$1\" = --file ]; then shift; out=\"$1\"; fi; shift; done\n\
         head -c 2000 {} > \"$out\"\nexit 0",
        dir.path().join(&backups_in(dir.path())[0]).display()
    ));
    let out = db
        .crm()
        .env("PATH", &path)
        .args(failing_backup_args(dir.path()))
        .run();
    out.assert_code(1).assert_stderr_contains(
        "does not read back: nothing was kept, and no old backup was removed",
    );
    assert_untouched(dir.path(), &before, &out);
}

#[test]
fn a_pg_dump_older_than_the_server_is_refused_before_dumping() {
    let db = filled();
    let dir = planted(&db);
    let before = listing(dir.path());
    let bin = tempfile::tempdir().unwrap();
    let ran = bin.path().join("dumped");
    let (_fake, path) = fake_pg_dump(&format!(
        "if [ \"$1\" = \"--version\" ]; then echo 'pg_dump (PostgreSQL) 9.6.0'; exit 0; fi\n\
         touch {}\nexit 0",
        ran.display()
    ));
    let out = db
        .crm()
        .env("PATH", &path)
        .args(failing_backup_args(dir.path()))
        .run();
    out.assert_code(1)
        .assert_stderr_contains("is version 9.6, older than the server's");
    assert_untouched(dir.path(), &before, &out);
    assert!(!ran.exists(), "pg_dump 9.6 was run to dump");
}

/// Bad files of every kind: each restore is refused or fails before the swap, leaves no new
/// database, and the live one as it was; `verify` calls each bad input (exit 2).
#[test]
fn bad_backup_files_never_touch_the_live_database() {
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let good = backup(&db, dir.path());
    let bad = tempfile::tempdir().unwrap();
    let bad = bad.path();
    let bytes = fs::read(&good).unwrap();

    let truncated = copy_backup(&good, bad, "backup_truncated.dump", true);
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let truncated_alone = bad.join("backup_truncated_alone.dump");
    fs::write(&truncated_alone, &bytes[..bytes.len() / 2]).unwrap();
    let mut flipped_bytes = bytes.clone();
    flipped_bytes[bytes.len() / 2] ^= 0xff;
    let flipped = copy_backup(&good, bad, "backup_flipped.dump", true);
    fs::write(&flipped, &flipped_bytes).unwrap();
    // Without a manifest only pg_restore's reading can tell, and the archive's table of
    // contents (most of a small archive, its middle included) has no checksum: a flipped byte
    // there, in a "SEQUENCE SET" entry's type say, restores. The table data is compressed with
    // zlib's checksum: flip a byte there, inside the last data block.
    let last_block = bytes
        .windows(2)
        .rposition(|w| w == [0x78, 0x9c])
        .expect("a zlib-compressed data block");
    let mut flipped_data = bytes.clone();
    flipped_data[last_block + 4] ^= 0xff;
    let flipped_alone = bad.join("backup_flipped_alone.dump");
    fs::write(&flipped_alone, &flipped_data).unwrap();
    let not_a_backup = bad.join("backup_notes.dump");
    fs::write(&not_a_backup, "Remember to buy milk.\n").unwrap();
    let empty = bad.join("backup_empty.dump");
    fs::write(&empty, "").unwrap();
    let plain = reference_dump(&db, bad, |sql| sql);
    let gz = fs::read(&plain).unwrap();
    let truncated_gz = bad.join("backup_20250701_093000_truncated.sql.gz");
    fs::write(&truncated_gz, &gz[..gz.len() / 2]).unwrap();

    // Changed after the backup, so that a restore that went through would show.
    sql(&db, CHANGE);
    let truncated_message = format!(
        "is {} bytes, and its manifest says {}",
        bytes.len() / 2,
        bytes.len()
    );
    for (file, expected) in [
        (&truncated, truncated_message.as_str()),
        (&truncated_alone, "cannot be read back"),
        (&flipped, "does not match its manifest's SHA-256"),
        (&flipped_alone, "cannot be read back"),
        (&not_a_backup, "is not a backup: expected"),
        (&empty, "is empty"),
        (&truncated_gz, "is not a complete gzip file"),
    ] {
        assert_restore_refused(&db, &["db", "restore", "--yes"], file, 2, expected)
            .assert_stdout_eq("");

        let out = db.crm().args(["db", "backup", "verify"]).arg(file).run();
        out.assert_code(2).assert_stderr_contains(expected);
    }
}

#[test]
fn a_plain_dump_whose_sql_fails_half_way_never_touches_the_live_database() {
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let file = reference_dump(&db, dir.path(), |sql| {
        let at = sql
            .find("COPY public.\"Orders\"")
            .expect("the dump copies Orders");
        format!("{}SELECT 1 / 0 AS half_way;\n{}", &sql[..at], &sql[at..])
    });
    sql(&db, CHANGE);

    assert_restore_refused(
        &db,
        &["db", "restore", "--yes"],
        &file,
        1,
        "division by zero",
    )
    .assert_stderr_contains("was not touched");

    let out = run_leaving_no_scratch(
        db.crm()
            .args(["db", "backup", "verify", "--restore-test"])
            .arg(&file),
    );
    out.assert_code(1)
        .assert_stderr_contains("the restore test failed");
}

#[test]
fn a_plain_sql_gz_made_like_the_reference_restores_every_row() {
    let db = filled();
    let at_backup = checksums(&db.name);
    let dir = tempfile::tempdir().unwrap();
    let file = reference_dump(&db, dir.path(), |sql| sql);
    sql(&db, CHANGE);
    let changed = checksums(&db.name);

    db.crm()
        .args(["db", "restore", "--yes"])
        .arg(&file)
        .run()
        .assert_success()
        .assert_stderr_contains("To go back");
    let kept = databases_like(&format!("{}_before_restore_", db.name));
    assert_eq!(kept.len(), 1, "{kept:?}");
    let _kept = DropDb(kept[0].clone());
    assert_eq!(checksums(&db.name), at_backup);
    assert_eq!(checksums(&kept[0]), changed);
}

#[test]
fn the_owners_a_dump_names_are_never_restored() {
    let db = filled();
    let at_backup = checksums(&db.name);
    let dir = tempfile::tempdir().unwrap();
    let file = reference_dump(&db, dir.path(), |sql| {
        assert!(
            sql.contains("OWNER TO postgres;"),
            "pg_dump wrote no owners"
        );
        sql.replace("OWNER TO postgres;", "OWNER TO gemini_crm_owner_elsewhere;")
    });
    // With or without --no-owner (kept for the scripts that pass it): everything restored
    // belongs to the role crm connects as, and so does the database.
    for (i, no_owner) in [false, true].into_iter().enumerate() {
        let copy = format!("{}_owned{i}", db.name);
        let _drop = DropDb(copy.clone());
        let mut restore = db.crm();
        restore.args(["db", "restore", "--into", &copy]);
        if no_owner {
            restore.arg("--no-owner");
        }
        let out = restore.arg(&file).run();
        out.assert_success();
        assert_eq!(checksums(&copy), at_backup);
        let owners: Vec<String> = server()
            .connect(&server().admin_url(&copy))
            .query(
                "SELECT DISTINCT pg_get_userbyid(relowner)::text FROM pg_class \
                 WHERE relnamespace = 'public'::regnamespace \
                 UNION SELECT pg_get_userbyid(datdba)::text FROM pg_database \
                 WHERE datname = current_database()",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(owners, ["postgres"], "{out}");
    }
}

#[test]
fn a_plain_dump_with_a_shell_command_is_refused_and_runs_nothing() {
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let touched = dir.path().join("pwned");
    let shell = format!("\\! touch {}\n", touched.display());
    let plain = dir.path().join("backup_20250701_093000.sql");
    fs::write(
        &plain,
        format!("--\n-- PostgreSQL database dump\n--\n\nSELECT 1;\n{shell}SELECT 2;\n"),
    )
    .unwrap();
    // A dump that lifts its own \restrict before the shell command, gzipped.
    let lifting = dir.path().join("backup_20250701_093001.sql");
    fs::write(
        &lifting,
        format!("--\n\\restrict abc\nSELECT 1;\n\\unrestrict abc\n{shell}SELECT 2;\n"),
    )
    .unwrap();
    let status = std::process::Command::new("gzip")
        .arg(&lifting)
        .status()
        .unwrap();
    assert!(status.success());
    let lifting = dir.path().join("backup_20250701_093001.sql.gz");

    for file in [&plain, &lifting] {
        let out = assert_restore_refused(
            &db,
            &["db", "restore", "--yes"],
            file,
            2,
            "psql meta-command",
        );
        assert!(!touched.exists(), "\\! ran a shell command\n{out}");
    }
}

#[test]
fn a_backup_of_a_database_that_is_not_a_crm_is_refused_by_restore() {
    let db = filled();
    let other = TestDb::empty();
    sql(
        &other,
        "CREATE TABLE \"Users\" (id int); INSERT INTO \"Users\" VALUES (1);",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup_other.dump");
    let status = std::process::Command::new("pg_dump")
        .arg("--format=custom")
        .arg("-d")
        .arg(other.url())
        .arg("-f")
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());

    assert_restore_refused(
        &db,
        &["db", "restore", "--yes"],
        &file,
        2,
        "the backup is not a CRM database: it has no table \"Customers\"",
    );
}

#[test]
fn a_damaged_manifest_is_bad_input_and_a_missing_folder_is_not_found() {
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let file = backup(&db, dir.path());
    fs::write(manifest_of(&file), "{not json").unwrap();

    for args in [&["db", "restore", "--yes"][..], &["db", "backup", "verify"]] {
        assert_restore_refused(&db, args, &file, 2, "is not a crm backup manifest");
    }

    db.crm()
        .args(["db", "backup", "list", "--dir"])
        .arg(dir.path().join("nowhere"))
        .run()
        .assert_code(3)
        .assert_stderr_contains("does not exist");
    db.crm()
        .args(["db", "restore", "--yes"])
        .arg(dir.path().join("backup_nowhere.dump"))
        .run()
        .assert_code(3)
        .assert_stderr_contains("does not exist");
}

/// Parses `db backup list -o csv` into (file, status) pairs.
fn listed(db: &TestDb, dir: &Path) -> Vec<(String, String)> {
    let out = db
        .crm()
        .args(["-o", "csv", "db", "backup", "list", "--dir"])
        .arg(dir)
        .run();
    out.assert_success();
    let mut reader = csv::Reader::from_reader(out.stdout.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (file, status) = (column("file"), column("status"));
    let mut rows: Vec<(String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[file].to_string(), r[status].to_string())
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn retention_removes_only_old_good_backups_of_this_database_beyond_keep_min_and_list_shows_them() {
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    // Good backups of this database, 35, 40 and 50 days old.
    let aged: Vec<PathBuf> = [35, 40, 50]
        .iter()
        .map(|&days| {
            let b = backup(&db, dir);
            rewrite_manifest(&b, days, None);
            b
        })
        .collect();
    let other = backup(&db, dir);
    rewrite_manifest(&other, 90, Some("another_database"));
    let truncated = backup(&db, dir);
    rewrite_manifest(&truncated, 90, None);
    let bytes = fs::read(&truncated).unwrap();
    fs::write(&truncated, &bytes[..bytes.len() - 10]).unwrap();
    let foreign = dir.join("backup_20200101_000000.sql.gz");
    fs::write(&foreign, b"\x1f\x8b not really").unwrap();
    fs::write(dir.join("notes.txt"), "keep me\n").unwrap();
    let before = listing(dir);

    let out = db
        .crm()
        .args([
            "db",
            "backup",
            "--keep-days",
            "30",
            "--keep-min",
            "2",
            "--dir",
        ])
        .arg(dir)
        .run();
    out.assert_success()
        .assert_stderr_contains("removed 2 backups older than 30 days");
    let gone: Vec<String> = aged[1..]
        .iter()
        .flat_map(|b| [name(b), name(&manifest_of(b))])
        .collect();
    let mut expected: Vec<String> = before
        .iter()
        .filter(|n| !gone.contains(n))
        .cloned()
        .collect();
    let new = backups_in(dir)
        .into_iter()
        .find(|n| !before.contains(n))
        .expect("the new backup");
    expected.extend([
        new.clone(),
        format!("{new}.manifest.json"),
        ".crm-backup.lock".to_string(),
    ]);
    expected.sort();
    expected.dedup();
    assert_eq!(listing(dir), expected, "{out}");

    let listed = listed(&db, dir);
    let status = |file: &str| {
        listed
            .iter()
            .find(|(f, _)| f == file)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| panic!("{file} not listed: {listed:?}"))
    };
    assert_eq!(listed.len(), 5, "{listed:?}");
    assert_eq!(status(&new), "ok");
    assert_eq!(status(&name(&aged[0])), "ok");
    assert_eq!(status(&name(&other)), "ok");
    assert_eq!(
        status(&name(&truncated)),
        format!(
            "size {} differs from the manifest's {}",
            bytes.len() - 10,
            bytes.len()
        )
    );
    assert_eq!(status(&name(&foreign)), "not crm's (no manifest)");
}

/// A folder with a good backup of `db` and an old copy of it whose manifest `plant` makes into
/// something crm never writes (`what` it is). `db backup list` and a backup's retention must
/// both finish at once (retention reads manifests while holding the folder's lock), list the
/// copy as not crm's, and never remove it; retention removes the good one as usual. `verify`
/// refuses the copy (exit 2): what is beside it says nothing about it.
fn assert_an_odd_manifest_is_not_crms(plant: impl FnOnce(&Path), what: &str) {
    let status = format!("not crm's (its manifest {what})");
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let good = backup(&db, dir);
    let odd = copy_backup(&good, dir, "backup_20200101_000000.dump", false);
    plant(&manifest_of(&odd));
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();

    let out = db
        .crm()
        .args(["-o", "csv", "db", "backup", "list", "--dir"])
        .arg(dir)
        .timeout(Duration::from_secs(5))
        .run();
    out.assert_success();
    let mut reader = csv::Reader::from_reader(out.stdout.as_bytes());
    let mut statuses: Vec<(String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[6].to_string())
        })
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            (name(&odd), status.to_string()),
            (name(&good), "ok".to_string())
        ],
        "{out}"
    );

    let out = db
        .crm()
        .args([
            "db",
            "backup",
            "--keep-days",
            "0",
            "--keep-min",
            "0",
            "--dir",
        ])
        .arg(dir)
        .timeout(Duration::from_secs(60))
        .run();
    out.assert_success()
        .assert_stderr_contains("removed 1 backup older than 0 days");
    assert!(!good.exists(), "{out}");
    assert!(odd.exists(), "{out}");
    assert!(fs::symlink_metadata(manifest_of(&odd)).is_ok(), "{out}");

    db.crm()
        .args(["db", "backup", "verify"])
        .arg(&odd)
        .timeout(Duration::from_secs(5))
        .run()
        .assert_code(2)
        .assert_stderr_contains(&format!(
            "{} {what}, so it is no manifest crm wrote",
            manifest_of(&odd).display()
        ));
}

#[test]
fn a_manifest_that_is_a_fifo_is_not_crms_and_blocks_neither_list_nor_retention() {
    assert_an_odd_manifest_is_not_crms(
        |manifest| {
            let made = std::process::Command::new("mkfifo")
                .arg(manifest)
                .status()
                .expect("run mkfifo");
            assert!(made.success());
        },
        "is a FIFO, not a regular file",
    );
}

#[test]
fn a_manifest_that_links_to_dev_zero_is_not_crms_and_is_never_read() {
    assert_an_odd_manifest_is_not_crms(
        |manifest| std::os::unix::fs::symlink("/dev/zero", manifest).unwrap(),
        "is a symbolic link, not a regular file",
    );
}

#[test]
fn a_manifest_larger_than_64_kib_is_not_crms() {
    assert_an_odd_manifest_is_not_crms(
        |manifest| {
            // A copy of a real manifest would do, made too large by trailing spaces.
            let good = manifest.with_file_name(
                fs::read_dir(manifest.parent().unwrap())
                    .unwrap()
                    .map(|e| e.unwrap().file_name())
                    .find(|n| n.to_string_lossy().ends_with(".dump.manifest.json"))
                    .unwrap(),
            );
            let mut text = fs::read_to_string(good).unwrap();
            text.push_str(&" ".repeat(64 * 1024));
            fs::write(manifest, text).unwrap();
        },
        "is larger than 64 KiB",
    );
}

#[test]
fn a_backup_whose_bytes_changed_does_not_count_towards_keep_min() {
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // 40, 50 and 60 days old; the newest of them then damaged in place (same size).
    let aged: Vec<PathBuf> = [60, 50, 40]
        .iter()
        .map(|&days| {
            let b = backup(&db, dir);
            rewrite_manifest(&b, days, None);
            b
        })
        .collect();
    let mut bytes = fs::read(&aged[2]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs::write(&aged[2], &bytes).unwrap();

    // Keep 2: the new one and the 50-day one count; the damaged 40-day one stays for a person
    // to look at; only the 60-day one goes.
    db.crm()
        .args([
            "db",
            "backup",
            "--keep-days",
            "30",
            "--keep-min",
            "2",
            "--dir",
        ])
        .arg(dir)
        .run()
        .assert_success()
        .assert_stderr_contains("removed 1 backup older than 30 days");
    assert!(!aged[0].exists());
    assert!(aged[1].exists() && aged[2].exists());
    let damaged = aged[2].file_name().unwrap().to_string_lossy().into_owned();
    let status = listed(&db, dir)
        .into_iter()
        .find(|(file, _)| *file == damaged)
        .map(|(_, status)| status);
    assert_eq!(
        status.as_deref(),
        Some("checksum differs from the manifest's")
    );
}

#[test]
fn a_stale_temporary_file_is_swept_and_quiet_prints_nothing() {
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let stale = dir
        .path()
        .join(".crm-backup-20250701_093000-4242-d.partial");
    fs::write(&stale, "half a dump").unwrap();

    let out = db
        .crm()
        .args(["--quiet", "db", "backup", "--dir"])
        .arg(dir.path())
        .run();
    out.assert_success().assert_stdout_eq("");
    assert_eq!(out.stderr, "", "{out}");
    assert!(!stale.exists(), "the stale temporary file was not swept");
    let made = backups_in(dir.path());
    assert_eq!(made.len(), 1);
    // Backups hold password hashes: readable by their owner only.
    for file in [
        dir.path().join(&made[0]),
        manifest_of(&dir.path().join(&made[0])),
    ] {
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }

    let out = db
        .crm()
        .args(["db", "backup", "--dir"])
        .arg(dir.path())
        .run();
    out.assert_success().assert_stdout_eq("");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].starts_with("backup "), "{out}");
    assert!(
        lines[0].contains("read back by pg_restore, sha256 "),
        "{out}"
    );
    assert_eq!(backups_in(dir.path()).len(), 2);
}

#[test]
fn verify_with_a_restore_test_passes_on_a_good_backup_and_leaves_no_scratch_database() {
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let file = backup(&db, dir.path());
    let out = run_leaving_no_scratch(
        db.crm()
            .args(["-o", "json", "db", "backup", "verify", "--restore-test"])
            .arg(&file),
    );
    out.assert_success()
        .assert_stdout_contains("matches the manifest")
        .assert_stdout_contains("restored: 8 tables, 17 rows");
    // For a script, the size is the file's bytes, as `db backup list` gives it.
    let size = fs::metadata(&file).unwrap().len();
    out.assert_stdout_contains(&format!("\"size\":{size},"));
}

#[test]
fn a_restore_without_a_terminal_needs_yes_and_changes_nothing() {
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let file = backup(&db, dir.path());
    sql(&db, CHANGE);

    assert_restore_refused(&db, &["db", "restore"], &file, 2, "pass --yes to confirm");
}

#[test]
fn an_overlapping_backup_exits_5_with_no_wait_and_otherwise_waits() {
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.path().join(".crm-backup.lock"))
        .unwrap();
    lock.try_lock().expect("take the folder's lock");

    db.crm()
        .args(["db", "backup", "--no-wait", "--dir"])
        .arg(dir.path())
        .run()
        .assert_code(5)
        .assert_stderr_contains("another crm backup into");
    assert_eq!(backups_in(dir.path()), Vec::<String>::new());

    let mut waiting = db.crm();
    waiting.args(["db", "backup", "--dir"]).arg(dir.path());
    let mut child = waiting.spawn();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the second backup did not wait for the lock"
    );
    assert_eq!(backups_in(dir.path()), Vec::<String>::new());
    drop(lock);
    waiting
        .wait(child)
        .assert_success()
        .assert_stderr_contains("waiting for another crm backup");
    assert_eq!(backups_in(dir.path()).len(), 1);
}

#[test]
fn a_backup_migrated_by_a_newer_crm_is_refused_by_restore() {
    let db = filled();
    sql(
        &db,
        "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
         SELECT 999, 'from_a_newer_crm', applied_on, checksum FROM refinery_schema_history \
         WHERE version = 1",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = backup(&db, dir.path());
    sql(&db, CHANGE);

    assert_restore_refused(
        &db,
        &["db", "restore", "--yes"],
        &file,
        2,
        "migrated by a newer crm (migration 999",
    );
}

#[test]
fn a_backup_never_removes_itself_even_with_keep_days_0_and_keep_min_0() {
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let old = backup(&db, dir.path());
    rewrite_manifest(&old, 2, None);

    let out = db
        .crm()
        .args([
            "db",
            "backup",
            "--keep-days",
            "0",
            "--keep-min",
            "0",
            "--dir",
        ])
        .arg(dir.path())
        .run();
    out.assert_success()
        .assert_stderr_contains("removed 1 backup older than 0 days");
    let left = backups_in(dir.path());
    assert_eq!(left.len(), 1, "{left:?}\n{out}");
    assert_ne!(dir.path().join(&left[0]), old, "{out}");
    assert!(manifest_of(&dir.path().join(&left[0])).exists());
}

#[test]
fn on_a_terminal_a_restore_needs_the_database_name_typed() {
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let file = backup(&db, dir.path());
    sql(&db, r#"DELETE FROM "OrderItems""#);
    let changed = checksums(&db.name);
    let live = LiveDatabase::snapshot(&db.name);

    let (code, screen) = crm_on_terminal(
        &[
            "--database-url",
            &db.url(),
            "db",
            "restore",
            &file.display().to_string(),
        ],
        "not-the-name\n",
    );
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("Type the database name"), "{screen}");
    assert!(screen.contains("nothing was changed"), "{screen}");
    live.assert_unchanged(&screen);

    let (code, screen) = crm_on_terminal(
        &[
            "--database-url",
            &db.url(),
            "db",
            "restore",
            &file.display().to_string(),
        ],
        &format!("{}\n", db.name),
    );
    assert_eq!(code, 0, "{screen}");
    assert_ne!(checksums(&db.name), changed, "{screen}");
    for kept in databases_like(&db.name) {
        if kept != db.name {
            sql(&db, &format!("DROP DATABASE \"{kept}\" WITH (FORCE)"));
        }
    }
}

/// `postgresql://ROLE@host:port/DB`: the test server trusts such logins over TCP.
fn url_as(role: &str, db: &str) -> String {
    format!("postgresql://{role}@127.0.0.1:{}/{db}", server().port)
}

/// Whether database `name` accepts connections; `None` when there is no such database.
fn allows_connections(name: &str) -> Option<bool> {
    server()
        .admin_client()
        .query_opt(
            "SELECT datallowconn FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .expect("read pg_database")
        .map(|r| r.get(0))
}

/// The issue's setup: a database owned by `owner`, a role with CREATEDB that is no superuser,
/// which migrated it itself; `other` is another login role. Fields drop in this order: the
/// database before the roles that own or use it.
struct OwnedByRole {
    db: TestDb,
    owner: TestRole,
    other: TestRole,
}

fn owned_by_role() -> OwnedByRole {
    let db = TestDb::empty();
    let owner = TestRole::create(&db, "o", "CREATEDB");
    let other = TestRole::create(&db, "x", "");
    sql(
        &db,
        &format!("ALTER DATABASE \"{}\" OWNER TO {}", db.name, owner.0),
    );
    let owned = OwnedByRole { db, owner, other };
    owned.crm().args(["db", "migrate"]).run().assert_success();
    owned
}

impl OwnedByRole {
    /// `crm` connected as the owner.
    fn crm(&self) -> crate::harness::Crm {
        let mut crm = crm();
        crm.args(["--database-url", &url_as(&self.owner.0, &self.db.name)]);
        crm
    }

    /// A session of the other role on the database.
    fn other_session(&self) -> postgres::Client {
        server().connect(&url_as(&self.other.0, &self.db.name))
    }

    /// The live database is there, under its name, accepting connections, and nothing else
    /// named after it is.
    #[track_caller]
    fn assert_as_it_was(&self, out: &Output) {
        assert_eq!(allows_connections(&self.db.name), Some(true), "{out}");
        assert_eq!(
            databases_like(&self.db.name),
            std::slice::from_ref(&self.db.name),
            "{out}"
        );
        server()
            .connect(&url_as(&self.owner.0, &self.db.name))
            .simple_query("SELECT 1")
            .unwrap_or_else(|e| panic!("the live database refuses a new session: {e}\n{out}"));
    }
}

#[test]
fn an_owner_who_cannot_end_another_roles_session_is_refused_before_anything_changes() {
    let owned = owned_by_role();
    let dir = tempfile::tempdir().unwrap();
    owned
        .crm()
        .args(["--quiet", "db", "backup", "--dir"])
        .arg(dir.path())
        .run()
        .assert_success();
    let file = dir.path().join(&backups_in(dir.path())[0]);
    let mut session = owned.other_session();

    let out = owned
        .crm()
        .args(["db", "restore", "--yes", "--no-owner"])
        .arg(&file)
        .run();
    out.assert_code(1)
        .assert_stderr_contains("error: cannot restore")
        .assert_stderr_contains(&format!("\"{}\"", owned.other.0))
        .assert_stderr_contains("pg_signal_backend")
        .assert_stderr_contains("superuser");
    owned.assert_as_it_was(&out);
    session
        .simple_query("SELECT 1")
        .unwrap_or_else(|e| panic!("the other role's session was ended: {e}\n{out}"));

    // With the right to end it, the same restore goes through.
    sql(
        &owned.db,
        &format!("GRANT pg_signal_backend TO {}", owned.owner.0),
    );
    let out = owned
        .crm()
        .args(["db", "restore", "--yes", "--no-owner"])
        .arg(&file)
        .run();
    out.assert_success();
    let kept = databases_like(&format!("{}_before_restore_", owned.db.name));
    assert_eq!(kept.len(), 1, "{kept:?}\n{out}");
    let _kept = DropDb(kept[0].clone());
    assert!(session.simple_query("SELECT 1").is_err(), "{out}");
    assert_eq!(allows_connections(&owned.db.name), Some(true), "{out}");
    assert_eq!(allows_connections(&kept[0]), Some(true), "{out}");
}

#[test]
fn a_session_that_arrives_during_the_restore_and_cannot_be_ended_leaves_the_live_database_as_it_was()
 {
    let owned = owned_by_role();
    let dir = tempfile::tempdir().unwrap();
    // A slow plain dump: the other role connects while it is being restored, after the
    // rights were checked.
    let file = reference_dump(&owned.db, dir.path(), |sql| {
        let at = sql
            .find("COPY public.\"Orders\"")
            .expect("the dump copies Orders");
        format!("{}SELECT pg_sleep(4);\n{}", &sql[..at], &sql[at..])
    });
    let mut restore = owned.crm();
    restore
        .args(["db", "restore", "--yes", "--no-owner"])
        .arg(&file);
    let child = restore.spawn();
    let restoring = format!("{}_restoring_", owned.db.name);
    wait_until(Duration::from_secs(30), "the restore to begin", || {
        !databases_like(&restoring).is_empty()
    });
    let mut session = owned.other_session();
    let out = restore.wait(child);
    out.assert_code(1)
        .assert_stderr_contains("pg_signal_backend")
        .assert_stderr_contains("is as it was");
    owned.assert_as_it_was(&out);
    session
        .simple_query("SELECT 1")
        .unwrap_or_else(|e| panic!("the other role's session was ended: {e}\n{out}"));
}

#[test]
fn a_swap_whose_rename_fails_leaves_the_live_database_as_it_was() {
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let file = backup(&db, dir.path());
    sql(&db, CHANGE);
    // The name the live database would be kept under is taken, for each second the restore
    // may reach its swap in.
    let now = time::OffsetDateTime::now_utc();
    let taken: Vec<DropDb> = (0..20)
        .map(|s| {
            let at = now + time::Duration::seconds(s);
            let name = format!(
                "{}_before_restore_{}",
                db.name,
                at.format(time::macros::format_description!(
                    "[year][month][day]_[hour][minute][second]"
                ))
                .unwrap()
            );
            sql(&db, &format!("CREATE DATABASE \"{name}\""));
            DropDb(name)
        })
        .collect();

    let out = assert_restore_refused(&db, &["db", "restore", "--yes"], &file, 1, "already exists");
    out.assert_stderr_contains("is as it was");
    assert_eq!(allows_connections(&db.name), Some(true), "{out}");
    assert_eq!(
        databases_like(&format!("{}_restoring_", db.name)),
        Vec::<String>::new()
    );
    drop(taken);
    assert_eq!(databases_like(&db.name), vec![db.name.clone()]);
}

/// A database's owner, privileges (each as `grantor>grantee:privilege[*]`, PUBLIC as `-`) and
/// settings (each as `role:name=value`, the database's own as `-:name=value`), sorted.
fn database_properties(name: &str) -> (String, Vec<String>, Vec<String>) {
    let mut admin = server().admin_client();
    let owner: String = admin
        .query_one(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .expect("read the owner")
        .get(0);
    let acl = admin
        .query(
            "SELECT pg_get_userbyid(a.grantor)::text || '>' \
                    || CASE WHEN a.grantee = 0 THEN '-' ELSE pg_get_userbyid(a.grantee)::text END \
                    || ':' || a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END \
             FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a \
             WHERE d.datname = $1 ORDER BY 1",
            &[&name],
        )
        .expect("read the privileges")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let settings = admin
        .query(
            "SELECT CASE WHEN s.setrole = 0 THEN '-' ELSE pg_get_userbyid(s.setrole)::text END \
                    || ':' || c \
             FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase, \
                  unnest(s.setconfig) c \
             WHERE d.datname = $1 ORDER BY 1",
            &[&name],
        )
        .expect("read the settings")
        .iter()
        .map(|r| r.get(0))
        .collect();
    (owner, acl, settings)
}

#[test]
fn a_restore_keeps_the_live_databases_owner_privileges_and_settings() {
    let owned = OwnedByRole {
        db: filled(),
        owner: TestRole::create(&TestDb::empty(), "o", "CREATEDB"),
        other: TestRole::create(&TestDb::empty(), "x", ""),
    };
    let (db, o, x) = (&owned.db.name, &owned.owner.0, &owned.other.0);
    let dir = tempfile::tempdir().unwrap();
    let file = backup(&owned.db, dir.path());
    sql(
        &owned.db,
        &format!(
            "ALTER DATABASE \"{db}\" OWNER TO {o};
             ALTER DATABASE \"{db}\" SET statement_timeout = '30s';
             ALTER DATABASE \"{db}\" SET search_path = \"$user\", public, \"odd, name\";
             REVOKE CONNECT, TEMP ON DATABASE \"{db}\" FROM PUBLIC;
             GRANT CONNECT ON DATABASE \"{db}\" TO {x};
             GRANT TEMP ON DATABASE \"{db}\" TO {x} WITH GRANT OPTION;
             ALTER ROLE {x} IN DATABASE \"{db}\" SET work_mem = '64MB';"
        ),
    );
    let before = database_properties(db);
    assert_eq!(before.0, *o);
    assert_eq!(before.2.len(), 3, "{before:?}");

    let out = owned
        .db
        .crm()
        .args(["db", "restore", "--yes"])
        .arg(&file)
        .run();
    out.assert_success()
        .assert_stderr_contains("owner, privileges and settings");
    let kept = databases_like(&format!("{db}_before_restore_"));
    assert_eq!(kept.len(), 1, "{kept:?}\n{out}");
    let _kept = DropDb(kept[0].clone());
    assert_eq!(database_properties(db), before, "{out}");
    assert_eq!(database_properties(&kept[0]), before, "{out}");
    // PUBLIC may no longer connect: a role with nothing granted is turned away.
    let stranger = TestRole::create(&owned.db, "s", "");
    let refused = postgres::Client::connect(&url_as(&stranger.0, db), postgres::NoTls);
    assert!(refused.is_err(), "PUBLIC may connect again\n{out}");
    server()
        .connect(&url_as(x, db))
        .simple_query("SELECT 1")
        .unwrap_or_else(|e| panic!("{x} may no longer connect: {e}\n{out}"));
}

/// A file name in the shared temporary folder, where the server's own OS user could write
/// too (a program the server ran would leave it), removed at the end.
struct Planted(PathBuf);

impl Planted {
    fn new() -> Planted {
        let name = format!(
            "crm-pwned-{}-{}",
            std::process::id(),
            time::OffsetDateTime::now_utc().unix_timestamp_nanos()
        );
        Planted(std::env::temp_dir().join(name))
    }
}

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// A role that a hostile file may have created, dropped at the end.
struct DropRole(String);

impl Drop for DropRole {
    fn drop(&mut self) {
        let _ = server()
            .admin_client()
            .batch_execute(&format!("DROP ROLE IF EXISTS \"{}\"", self.0));
    }
}

fn role_exists(name: &str) -> bool {
    server()
        .admin_client()
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&name])
        .expect("read pg_roles")
        .is_some()
}

/// The temporary role the restore said it ran the file's SQL as; it must be gone.
#[track_caller]
fn assert_temporary_role_dropped(out: &Output) {
    let name = out
        .stderr
        .split_once("temporary role \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(name, _)| name.to_string())
        .unwrap_or_else(|| panic!("no temporary role named\n{out}"));
    assert!(name.starts_with("crm_restore_"), "{name}\n{out}");
    assert!(
        !role_exists(&name),
        "the temporary role {name} is left\n{out}"
    );
}

/// What a hostile file does: run a program as the server's OS user, make a superuser.
fn hostile_sql(planted: &Planted, evil: &str) -> (String, String) {
    (
        format!(
            "COPY (SELECT 1) TO PROGRAM 'touch {}';\n",
            planted.0.display()
        ),
        format!("CREATE ROLE {evil} LOGIN SUPERUSER;\n"),
    )
}

#[test]
fn a_plain_dump_runs_without_superuser_rights_so_its_programs_and_roles_are_refused() {
    let db = filled();
    let planted = Planted::new();
    let evil = DropRole(format!("evil_{}", &db.name[2..]));
    let (program, role) = hostile_sql(&planted, &evil.0);
    let dir = tempfile::tempdir().unwrap();
    let with = |sql: &String| {
        let sql = sql.clone();
        move |dump: String| {
            let at = dump
                .find("COPY public.\"Orders\"")
                .expect("the dump copies Orders");
            format!("{}{sql}{}", &dump[..at], &dump[at..])
        }
    };
    // A plain .sql running a program, a .sql.gz making a superuser.
    let gz = reference_dump(&db, dir.path(), with(&program));
    assert!(
        std::process::Command::new("gzip")
            .arg("-d")
            .arg(&gz)
            .status()
            .unwrap()
            .success()
    );
    let plain = dir.path().join("evil.sql");
    fs::rename(gz.with_extension(""), &plain).unwrap();
    let gz = reference_dump(&db, dir.path(), with(&role));

    let copy = format!("{}_t", db.name);
    let _copy = DropDb(copy.clone());
    for (file, args) in [
        (&plain, vec!["db", "restore", "--into", &copy]),
        (&gz, vec!["db", "restore", "--yes"]),
        (&plain, vec!["db", "backup", "verify", "--restore-test"]),
        (&gz, vec!["db", "backup", "verify", "--restore-test"]),
    ] {
        let out = assert_restore_refused(&db, &args, file, 2, "rights a restore does not have");
        out.assert_stderr_contains("nothing was kept");
        assert!(!planted.0.exists(), "the program ran\n{out}");
        assert!(!role_exists(&evil.0), "the role was made\n{out}");
        assert_temporary_role_dropped(&out);
    }
}

#[test]
fn a_custom_archive_runs_without_superuser_rights_so_its_programs_and_roles_are_refused() {
    let db = filled();
    let planted = Planted::new();
    let evil = DropRole(format!("evil_{}", &db.name[2..]));
    let (program, role) = hostile_sql(&planted, &evil.0);
    // A CHECK constraint that a restore evaluates for each row it copies in: harmless while
    // the row is written here, hostile once the function is replaced.
    sql(
        &db,
        &format!(
            "CREATE FUNCTION public.hostile(i int) RETURNS boolean LANGUAGE plpgsql AS
               $$ BEGIN RETURN true; END $$;
             CREATE TABLE public.trap (i int CHECK (public.hostile(i)));
             INSERT INTO public.trap VALUES (1);
             CREATE OR REPLACE FUNCTION public.hostile(i int) RETURNS boolean LANGUAGE plpgsql AS
               $$ BEGIN EXECUTE {}; EXECUTE {}; RETURN true; END $$;",
            quote(role.trim().trim_end_matches(';')),
            quote(program.trim().trim_end_matches(';')),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = backup(&db, dir.path());

    let copy = format!("{}_t", db.name);
    let _copy = DropDb(copy.clone());
    for args in [
        vec!["db", "restore", "--into", &copy],
        vec!["db", "backup", "verify", "--restore-test"],
    ] {
        let out = assert_restore_refused(&db, &args, &file, 2, "rights a restore does not have");
        out.assert_stderr_contains("must be superuser to create superusers")
            .assert_stderr_contains("nothing was kept");
        assert!(!planted.0.exists(), "the program ran\n{out}");
        assert!(!role_exists(&evil.0), "the role was made\n{out}");
        assert_temporary_role_dropped(&out);
    }
}

/// `text` as an SQL string literal.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[test]
fn sigterm_sighup_and_ctrl_c_during_a_restore_end_it_and_leave_nothing_behind() {
    use rustix::process::Signal;
    let db = filled();
    let live = LiveDatabase::snapshot(&db.name);
    let dir = tempfile::tempdir().unwrap();
    // A slow plain dump: the signal arrives while psql is in the middle of it.
    let file = reference_dump(&db, dir.path(), |sql| {
        let at = sql
            .find("COPY public.\"Orders\"")
            .expect("the dump copies Orders");
        format!("{}SELECT pg_sleep(60);\n{}", &sql[..at], &sql[at..])
    });
    let copy = format!("{}_t", db.name);
    let _copy = DropDb(copy.clone());
    for (signal, code, args) in [
        (Signal::TERM, 143, vec!["db", "restore", "--into", &copy]),
        (Signal::HUP, 129, vec!["db", "restore", "--yes"]),
        (
            Signal::INT,
            130,
            vec!["db", "backup", "verify", "--restore-test"],
        ),
    ] {
        let mut restore = db.crm();
        restore.args(&args).arg(&file);
        let child = restore.spawn();
        let raw = child.id();
        let pid = rustix::process::Pid::from_raw(raw as i32).unwrap();
        let started = std::time::Instant::now();
        let sleeping = || {
            server()
                .admin_client()
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%' \
                     AND starts_with(usename, 'crm_restore_')",
                    &[],
                )
                .unwrap()
                .get::<_, i64>(0)
                > 0
        };
        wait_until(Duration::from_secs(30), "the dump to run", sleeping);
        rustix::process::kill_process(pid, signal).unwrap();
        let out = restore.wait(child);
        out.assert_code(code)
            .assert_stderr_contains("nothing was kept");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the restore ran on after the signal\n{out}"
        );
        assert_temporary_role_dropped(&out);
        let left = databases_like("crm_verify_")
            .into_iter()
            .filter(|name| name.ends_with(&format!("_{raw}")))
            .count();
        assert_eq!(left, 0, "{out}");
        live.assert_unchanged(&out);
    }
}

/// A folder holding a `pg_restore` that appends its arguments to `args.log` beside it and runs
/// the real one, and a PATH with it first.
fn recording_pg_restore() -> (tempfile::TempDir, String, PathBuf) {
    let real = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/lib/postgresql/15/bin")])
        .map(|d| d.join("pg_restore"))
        .find(|p| p.is_file())
        .expect("pg_restore on PATH or in /usr/lib/postgresql/15/bin");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("args.log");
    let script = dir.path().join("pg_restore");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{log}'\nexec '{real}' \"$@\"\n",
            log = log.display(),
            real = real.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (dir, path, log)
}

#[test]
fn a_parallel_restore_gives_the_rows_a_serial_one_gives() {
    let db = filled();
    let at_backup = checksums(&db.name);
    let dir = tempfile::tempdir().unwrap();
    let file = backup(&db, dir.path());
    sql(&db, CHANGE);
    let (_bin, path, log) = recording_pg_restore();

    let serial = format!("{}_serial", db.name);
    let parallel = format!("{}_parallel", db.name);
    let defaulted = format!("{}_default", db.name);
    let _dropped = [
        DropDb(serial.clone()),
        DropDb(parallel.clone()),
        DropDb(defaulted.clone()),
    ];
    for (name, jobs) in [
        (&serial, Some("1")),
        (&parallel, Some("3")),
        (&defaulted, None),
    ] {
        let mut crm = db.crm();
        crm.env("PATH", &path)
            .args(["db", "restore", "--into", name])
            .arg(&file);
        if let Some(jobs) = jobs {
            crm.args(["--jobs", jobs]);
        }
        crm.run()
            .assert_success()
            .assert_stderr_contains(&format!("into new database \"{name}\""));
        assert_eq!(checksums(name), at_backup, "restored with --jobs {jobs:?}");
    }
    // pg_restore was asked for what --jobs said, and for one job a core without it.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let restores: Vec<String> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter(|l| l.contains("--exit-on-error"))
        .map(str::to_string)
        .collect();
    assert_eq!(restores.len(), 3, "{restores:?}");
    assert!(restores[0].contains("--jobs=1"), "{restores:?}");
    assert!(restores[1].contains("--jobs=3"), "{restores:?}");
    assert!(
        restores[2].contains(&format!("--jobs={cores}")),
        "{restores:?}"
    );
}

#[test]
fn a_bad_jobs_count_is_refused_before_anything_is_touched() {
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let file = backup(&db, dir.path());
    let live = checksums(&db.name);
    for jobs in ["0", "-1", "65", "two", ""] {
        let out = db
            .crm()
            .args(["db", "restore", "--yes", "--jobs", jobs])
            .arg(&file)
            .run();
        out.assert_code(2)
            .assert_stderr_contains("expected a whole number of parallel jobs from 1 to 64")
            .assert_stdout_eq("");
        assert_eq!(checksums(&db.name), live, "{out}");
        assert_eq!(databases_like(&db.name), vec![db.name.clone()], "{out}");
    }
}

/// Issue 15, item 14: a warning says `warning: ` once. The leftovers of restores cut short
/// (a partial copy, a temporary role) are named in warnings that carried their own prefix, which
/// `Output::warn` adds again.
#[test]
fn the_leftovers_of_an_earlier_restore_are_warned_of_with_one_prefix() {
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let file = backup(&db, dir.path());
    let leftover = format!("{}_restoring_20200101_000000", db.name);
    let _leftover = DropDb(leftover.clone());
    server()
        .admin_client()
        .batch_execute(&format!("CREATE DATABASE {}", quoted(&leftover)))
        .unwrap();
    // A temporary role of a restore cut short a day ago: its validity ended.
    let role = TestRole::create(&db, "crm_restore", "VALID UNTIL '2000-01-01'");
    let into = format!("{}_into", db.name);
    let _into = DropDb(into.clone());
    let out = db
        .crm()
        .args(["db", "restore", "--yes", "--into", &into])
        .arg(&file)
        .run();
    out.assert_success()
        .assert_stderr_contains(&format!(
            "\nwarning: database \"{leftover}\" is the partial copy of an earlier restore"
        ))
        .assert_stderr_contains(&format!(
            "warning: role \"{}\" is the temporary role of an earlier restore",
            role.0
        ));
    assert!(!out.stderr.contains("warning: warning:"), "{out}");
}

/// Undoes `chattr +i` on a file when the test ends, so that its folder can be removed.
struct Immutable(PathBuf);

impl Immutable {
    /// Makes `path` immutable (even root cannot remove it); `None` where the file system or
    /// the account cannot.
    fn set(path: &Path) -> Option<Immutable> {
        let done = std::process::Command::new("chattr")
            .arg("+i")
            .arg(path)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        done.then(|| Immutable(path.to_path_buf()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
    }
}

/// Issue 15, item 14: an expired backup that cannot be removed is one warning, prefixed once,
/// and the backup still succeeds.
#[test]
fn an_expired_backup_that_cannot_be_removed_is_warned_of_with_one_prefix() {
    let db = filled();
    let dir = planted(&db);
    let stuck = dir.path().join(&backups_in(dir.path())[0]);
    let Some(_immutable) = Immutable::set(&stuck) else {
        eprintln!("skipped: chattr +i is not available here (not root, or the file system)");
        return;
    };
    let out = db
        .crm()
        .args([
            "db",
            "backup",
            "--keep-days",
            "1",
            "--keep-min",
            "0",
            "--dir",
        ])
        .arg(dir.path())
        .run();
    out.assert_success().assert_stderr_contains(&format!(
        "warning: cannot remove expired backup {}: ",
        stuck.display()
    ));
    assert!(!out.stderr.contains("warning: warning:"), "{out}");
    assert!(stuck.exists());
}

/// Issue 15, item 14, for every place: `Output::warn` adds `warning: `, so no message handed to
/// it starts with it (the places a test cannot provoke, such as an unreadable backup folder as
/// root, included).
#[test]
fn no_message_handed_to_warn_carries_its_own_prefix() {
    fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut offending = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        for (at, _) in text.match_indices(".warn(") {
            let rest = text[at + ".warn(".len()..].trim_start();
            let rest = rest.strip_prefix("format!(").unwrap_or(rest).trim_start();
            if rest.starts_with("\"warning:") {
                let line = text[..at].lines().count();
                offending.push(format!("{}:{line}", file.display()));
            }
        }
    }
    assert!(
        offending.is_empty(),
        "warn(\"warning: ...\") at {offending:?}"
    );
}

/// A restore on a terminal shows a bar of the archive's items (pg_restore's `--verbose` lines
/// move it), serially and with parallel jobs, where it showed only a spinner; piped, it says
/// only its summary (the other tests here).
#[test]
fn on_a_terminal_a_restore_shows_a_bar_of_the_archives_items() {
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let file = backup(&db, dir.path());
    for jobs in ["1", "2"] {
        let into = format!("{}_bar{jobs}", db.name);
        let (code, screen) = crm_on_terminal(
            &[
                "--database-url",
                &db.url(),
                "db",
                "restore",
                &file.display().to_string(),
                "--into",
                &into,
                "--jobs",
                jobs,
                "--yes",
            ],
            "",
        );
        assert_eq!(code, 0, "{screen}");
        assert!(screen.contains("restore ["), "no bar: {screen}");
        assert!(screen.contains(" left: into"), "{screen}");
        assert!(
            screen.contains(&format!("into new database \"{into}\"")),
            "{screen}"
        );
        // pg_restore's chatter is not shown.
        assert!(!screen.contains("pg_restore: creating"), "{screen}");
        assert_eq!(checksums(&into), checksums(&db.name));
        sql(&db, &format!("DROP DATABASE \"{into}\" WITH (FORCE)"));
    }
}

/// A size as crm shows a person one below 1 MiB: KiB with one decimal.
fn kib(bytes: u64) -> String {
    assert!((1024..1024 * 1024).contains(&bytes), "{bytes} bytes");
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

#[test]
fn sizes_read_in_iec_units_by_a_person_and_in_bytes_in_csv_and_json() {
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let out = db.crm().args(["db", "backup", "--dir"]).arg(dir).run();
    out.assert_success();
    let file = dir.join(&backups_in(dir)[0]);
    let size = fs::metadata(&file).unwrap().len();
    out.assert_stderr_contains(&format!(": {} in ", kib(size)));

    let list = |format: &str| {
        let out = db
            .crm()
            .args(["-o", format, "db", "backup", "list", "--dir"])
            .arg(dir)
            .run();
        out.assert_success();
        out.stdout
    };
    let table = list("table");
    assert!(table.contains(&format!(" {} ", kib(size))), "{table}");
    let csv = list("csv");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let position = reader.headers().unwrap().iter().position(|h| h == "size");
    let record = reader.records().next().unwrap().unwrap();
    assert_eq!(&record[position.unwrap()], size.to_string(), "{csv}");
    let json: serde_json::Value = serde_json::from_str(&list("json")).unwrap();
    assert_eq!(json[0]["size"], size, "{json}");
}

#[test]
fn backup_list_for_prometheus_gives_each_database_s_newest_backup_time_size_and_state() {
    use crate::health::{gauge, scrape};
    let db = filled();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let older = backup(&db, dir);
    rewrite_manifest(&older, 3, None);
    let newest = backup(&db, dir);
    let other = backup(&db, dir);
    rewrite_manifest(&other, 1, Some(r"other db\1"));
    copy_backup(&newest, dir, "backup_20200101_000000.dump", false);
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(manifest_of(&newest)).unwrap()).unwrap();
    let database = manifest["database"].as_str().unwrap().to_string();
    let made = time::OffsetDateTime::parse(
        manifest["createdAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp();

    let list = || {
        let out = db
            .crm()
            .args(["-o", "prometheus", "db", "backup", "list", "--dir"])
            .arg(dir)
            .run();
        out.assert_success();
        out.stdout
    };
    let text = list();
    let metrics = scrape(&text);
    let of = |metrics: &prometheus_parse::Scrape, metric, db: &str| {
        gauge(metrics, metric, "database", db)
            .unwrap_or_else(|| panic!("no {metric} for {db}:\n{text}"))
    };
    assert_eq!(
        of(&metrics, "crm_backup_newest_timestamp_seconds", &database),
        made as f64
    );
    assert_eq!(
        of(&metrics, "crm_backup_newest_size_bytes", &database),
        fs::metadata(&newest).unwrap().len() as f64
    );
    assert_eq!(of(&metrics, "crm_backup_newest_verified", &database), 1.0);
    assert_eq!(of(&metrics, "crm_backup_files", &database), 2.0);
    let day_ago = (time::OffsetDateTime::now_utc() - time::Duration::days(1)).unix_timestamp();
    // prometheus-parse keeps a label's value as written, escapes and all (and cannot read a
    // `\"` at its end): this is the database `other db\1`, its backslash escaped.
    let other = r"other db\\1";
    let other_made = of(&metrics, "crm_backup_newest_timestamp_seconds", other);
    assert!((other_made - day_ago as f64).abs() < 120.0, "{other_made}");
    assert_eq!(of(&metrics, "crm_backup_files", other), 1.0);
    let databases: Vec<&str> = metrics
        .samples
        .iter()
        .filter(|s| s.metric == "crm_backup_files")
        .map(|s| s.labels.get("database").unwrap())
        .collect();
    assert_eq!(
        databases.len(),
        2,
        "a file without a manifest names no database"
    );

    // The newest damaged in place: it no longer verifies.
    let mut bytes = fs::read(&newest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs::write(&newest, &bytes).unwrap();
    let metrics = scrape(&list());
    assert_eq!(
        gauge(
            &metrics,
            "crm_backup_newest_verified",
            "database",
            &database
        ),
        Some(0.0)
    );

    // For the textfile collector: the file replaced whole, nothing on stdout.
    let prom = dir.join("metrics").join("crm_backup.prom");
    fs::create_dir(prom.parent().unwrap()).unwrap();
    let out = db
        .crm()
        .args(["-o", "prometheus", "db", "backup", "list", "--dir"])
        .arg(dir)
        .arg("--output")
        .arg(&prom)
        .run();
    out.assert_success();
    assert_eq!(out.stdout, "");
    let metrics = scrape(&fs::read_to_string(&prom).unwrap());
    assert_eq!(
        gauge(&metrics, "crm_backup_files", "database", &database),
        Some(2.0)
    );
    assert_eq!(listing(prom.parent().unwrap()), ["crm_backup.prom"]);
    db.crm()
        .args([
            "-o", "csv", "db", "backup", "list", "--output", "x.prom", "--dir",
        ])
        .arg(dir)
        .run()
        .assert_code(2)
        .assert_stderr_contains("--output FILE writes the metrics of -o prometheus");
}

#[test]
fn an_empty_backup_folder_gives_metrics_with_no_samples() {
    let db = TestDb::migrated();
    let dir = tempfile::tempdir().unwrap();
    let out = db
        .crm()
        .args(["-o", "prometheus", "db", "backup", "list", "--dir"])
        .arg(dir.path())
        .run();
    out.assert_success();
    let metrics = crate::health::scrape(&out.stdout);
    assert!(metrics.samples.is_empty());
    assert!(
        metrics
            .docs
            .contains_key("crm_backup_newest_timestamp_seconds")
    );
}
