//! The embedded default: with nothing configured, crm creates, starts and uses a private cluster
//! under $CRM_HOME, and `crm db local` manages it.

use crate::harness::crm;
use std::path::PathBuf;

/// A CRM_HOME of a test's own, in a temporary folder the `postgres` account can reach. Its
/// cluster is stopped when the test ends, whatever happened, before the folder is removed.
pub(crate) struct LocalHome {
    pub(crate) crm_home: PathBuf,
    _dir: tempfile::TempDir,
}

impl LocalHome {
    pub(crate) fn new() -> LocalHome {
        let dir = tempfile::Builder::new()
            .prefix("crm-local-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        LocalHome {
            crm_home: dir.path().join("crm"),
            _dir: dir,
        }
    }
}

impl Drop for LocalHome {
    fn drop(&mut self) {
        let _ = crm()
            .env("CRM_HOME", &self.crm_home)
            .args(["db", "local", "stop"])
            .run();
    }
}

#[test]
fn with_nothing_configured_crm_creates_starts_and_uses_its_local_cluster() {
    let home = LocalHome::new();
    let crm_home = home.crm_home.as_path();

    let status = crm()
        .env("CRM_HOME", crm_home)
        .args(["db", "local", "status"])
        .run();
    status
        .assert_success()
        .assert_stdout_contains(",not created,");

    let out = crm()
        .env("CRM_HOME", crm_home)
        .args(["db", "migrate"])
        .run();
    out.assert_success()
        .assert_stderr_contains(&format!(
            "notice: no database configured: using crm's local PostgreSQL in {} (created and started it)",
            crm_home.display()
        ))
        .assert_stderr_contains("applied 15 migrations");

    let out = crm()
        .env("CRM_HOME", crm_home)
        .args(["db", "migrate", "status", "--exit-code"])
        .run();
    out.assert_success();
    let notices: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        notices,
        [format!(
            "notice: no database configured: using crm's local PostgreSQL in {}",
            crm_home.display()
        )],
        "one line on stderr"
    );
    // --quiet silences the notice.
    crm()
        .env("CRM_HOME", crm_home)
        .args(["--quiet", "db", "migrate", "status"])
        .run()
        .assert_success()
        .assert_stdout_contains("10,search_indexes,applied");
    let quiet = crm()
        .env("CRM_HOME", crm_home)
        .args(["-q", "db", "migrate", "status"])
        .run();
    assert_eq!(quiet.stderr, "");

    // Unix socket only: the socket is in $CRM_HOME/run and the server listens on no TCP port.
    assert!(crm_home.join("run/.s.PGSQL.5432").exists());
    let conf = std::fs::read_to_string(crm_home.join("data/postgresql.conf")).unwrap();
    assert!(conf.contains("listen_addresses = ''"));

    let url = crm()
        .env("CRM_HOME", crm_home)
        .args(["db", "local", "url"])
        .run();
    url.assert_success();
    assert!(
        url.stdout.starts_with("postgresql://crm@/crm?host="),
        "{}",
        url.stdout
    );
    // The URL works for crm itself, as it would for psql.
    crm()
        .args([
            "--database-url",
            url.stdout.trim(),
            "db",
            "migrate",
            "status",
            "--exit-code",
        ])
        .run()
        .assert_success();

    crm()
        .env("CRM_HOME", crm_home)
        .args(["db", "local", "status"])
        .run()
        .assert_stdout_contains(",running,");
    crm()
        .env("CRM_HOME", crm_home)
        .args(["db", "local", "stop"])
        .run()
        .assert_success()
        .assert_stderr_contains("stopped");
    crm()
        .env("CRM_HOME", crm_home)
        .args(["db", "local", "status"])
        .run()
        .assert_stdout_contains(",stopped,");
    // The next command starts it again, keeping the data.
    crm()
        .env("CRM_HOME", crm_home)
        .args(["db", "migrate", "status", "--exit-code"])
        .run()
        .assert_success()
        .assert_stderr_contains("(started it)");
}

#[test]
fn two_first_runs_at_once_create_one_cluster_and_both_succeed() {
    let home = LocalHome::new();
    let crm_home = home.crm_home.as_path();
    let mut first = crm();
    let mut second = crm();
    first.env("CRM_HOME", crm_home).args(["db", "migrate"]);
    second.env("CRM_HOME", crm_home).args(["db", "migrate"]);
    let (a, b) = (first.spawn(), second.spawn());
    let (a, b) = (first.wait(a), second.wait(b));
    a.assert_success();
    b.assert_success();
    let created = [&a, &b]
        .iter()
        .filter(|o| o.stderr.contains("(created and started it)"))
        .count();
    assert_eq!(created, 1, "first:\n{a}\nsecond:\n{b}");
}

#[test]
fn as_root_a_crm_home_the_postgres_account_cannot_reach_is_refused_with_a_hint() {
    if !rustix::process::geteuid().is_root() {
        return; // Only root runs the server as another account.
    }
    let private = tempfile::Builder::new()
        .prefix("crm-private-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(
        private.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    crm()
        .env("CRM_HOME", private.path().join("crm"))
        .args(["db", "migrate", "status"])
        .run()
        .assert_code(2)
        .assert_stderr_contains("the postgres account")
        .assert_stderr_contains("cannot reach");
}
