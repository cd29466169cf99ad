//! A streaming standby of a [`PrivateServer`]: `pg_basebackup -R` of the primary into a folder of
//! its own, started on its own port, following the primary by streaming replication; stopped and
//! removed with the value (a watchdog removes it too should the test process die).

use super::PrivateServer;
use super::cluster::ServerTools;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::time::Duration;

/// The primary's pg_hba.conf lets the standby's walreceiver in: the harness's lines (`all`)
/// do not match the `replication` pseudo-database.
const REPLICATION_HBA: &str = "\nhost replication all 127.0.0.1/32 trust\n";

pub struct Standby {
    tools: ServerTools,
    pub port: u16,
}

impl Standby {
    /// A standby of `primary`, started, with its walreceiver streaming.
    pub fn of(primary: &PrivateServer) -> Standby {
        let hba = primary.tools().data().join("pg_hba.conf");
        let text = fs::read_to_string(&hba).expect("cannot read the primary's pg_hba.conf");
        if !text.contains(REPLICATION_HBA.trim()) {
            // Appending keeps the file's owner (postgres, when we are root).
            OpenOptions::new()
                .append(true)
                .open(&hba)
                .and_then(|mut f| f.write_all(REPLICATION_HBA.as_bytes()))
                .expect("cannot write the primary's pg_hba.conf");
            primary
                .client("postgres")
                .batch_execute("SELECT pg_reload_conf()")
                .expect("cannot reload the primary's configuration");
        }
        let dir = tempfile::Builder::new()
            .prefix("crm-test-standby-")
            .tempdir()
            .expect("cannot create a temporary folder for a test standby")
            .keep();
        let tools = ServerTools::find(dir);
        tools.spawn_watchdog();
        // A fast checkpoint: the default spreads the backup's over minutes.
        let out = tools
            .command("pg_basebackup")
            .arg("-D")
            .arg(tools.data())
            .args(["-R", "-X", "stream", "-c", "fast", "--no-sync", "-d"])
            .arg(format!(
                "postgresql://postgres@127.0.0.1:{}/postgres",
                primary.port
            ))
            .output()
            .expect("cannot run pg_basebackup");
        assert!(
            out.status.success(),
            "pg_basebackup of the private cluster failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Its own socket folder (the copied postgresql.conf names the primary's); later
        // settings win.
        tools.configure();
        let port = tools.start();
        let standby = Standby { tools, port };
        let mut client = standby.client("postgres");
        super::wait_for(
            &mut client,
            "SELECT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')",
            "the standby to stream from the primary",
            Duration::from_secs(60),
        );
        let mut primary_client = primary.client("postgres");
        super::wait_for(
            &mut primary_client,
            "SELECT EXISTS (SELECT 1 FROM pg_stat_replication \
               WHERE state = 'streaming' AND replay_lsn IS NOT NULL)",
            "the primary to see the standby streaming",
            Duration::from_secs(60),
        );
        standby
    }

    /// A superuser URL for `dbname` over TCP.
    pub fn url(&self, dbname: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{dbname}", self.port)
    }

    pub fn client(&self, dbname: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(dbname), postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to the test standby: {e}"))
    }

    /// `crm --database-url <the crm database on the standby>`.
    pub fn crm(&self) -> super::Crm {
        let mut crm = super::crm();
        crm.args(["--database-url", &self.url("crm")]);
        crm
    }
}

impl Drop for Standby {
    fn drop(&mut self) {
        self.tools.stop();
        let _ = fs::remove_dir_all(&self.tools.dir);
    }
}
