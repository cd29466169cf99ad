//! The embedded default: with nothing configured, crm creates, starts and uses a private cluster
//! under $CRM_HOME, and `crm db local` manages it.

use crate::harness::crm;
use std::path::PathBuf;

/// Stops the local cluster when the test ends, whatever happened.
struct StopOnDrop(PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = crm()
            .env("CRM_HOME", &self.0)
            .args(["db", "local", "stop"])
            .run();
    }
}

#[test]
fn with_nothing_configured_crm_creates_starts_and_uses_its_local_cluster() {
    let home = tempfile::Builder::new()
        .prefix("crm-local-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let crm_home = home.path().join("crm");
    let _stop = StopOnDrop(crm_home.clone());

    let status = crm()
        .env("CRM_HOME", &crm_home)
        .args(["db", "local", "status"])
        .run();
    status
        .assert_success()
        .assert_stdout_contains(",not created,");

    let out = crm()
        .env("CRM_HOME", &crm_home)
        .args(["db", "migrate"])
        .run();
    out.assert_success()
        .assert_stderr_contains(&format!(
            "notice: no database configured: using crm's local PostgreSQL in {} (created and started it)",
            crm_home.display()
        ))
        .assert_stderr_contains("applied 9 migrations");

    let out = crm()
        .env("CRM_HOME", &crm_home)
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
        .env("CRM_HOME", &crm_home)
        .args(["--quiet", "db", "migrate", "status"])
        .run()
        .assert_success()
        .assert_stdout_contains("9,performance_indexes,applied");
    let quiet = crm()
        .env("CRM_HOME", &crm_home)
        .args(["-q", "db", "migrate", "status"])
        .run();
    assert_eq!(quiet.stderr, "");

    // Unix socket only: the socket is in $CRM_HOME/run and the server listens on no TCP port.
    assert!(crm_home.join("run/.s.PGSQL.5432").exists());
    let conf = std::fs::read_to_string(crm_home.join("data/postgresql.conf")).unwrap();
    assert!(conf.contains("listen_addresses = ''"));

    let url = crm()
        .env("CRM_HOME", &crm_home)
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
        .env("CRM_HOME", &crm_home)
        .args(["db", "local", "status"])
        .run()
        .assert_stdout_contains(",running,");
    crm()
        .env("CRM_HOME", &crm_home)
        .args(["db", "local", "stop"])
        .run()
        .assert_success()
        .assert_stderr_contains("stopped");
    crm()
        .env("CRM_HOME", &crm_home)
        .args(["db", "local", "status"])
        .run()
        .assert_stdout_contains(",stopped,");
    // The next command starts it again, keeping the data.
    crm()
        .env("CRM_HOME", &crm_home)
        .args(["db", "migrate", "status", "--exit-code"])
        .run()
        .assert_success()
        .assert_stderr_contains("(started it)");
}
