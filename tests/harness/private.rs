//! A cluster of one test's own, for the tests that must stop the server, fill its connection
//! slots or change its settings: created, started and removed with the value (a watchdog removes
//! it too should the test process die).

use super::cluster::ServerTools;
use std::fs;

pub struct PrivateServer {
    tools: ServerTools,
    pub port: u16,
}

impl PrivateServer {
    /// A new cluster with `settings` appended to its postgresql.conf, started, with a database
    /// `crm` migrated by the real `crm db migrate`.
    pub fn start(settings: &str) -> PrivateServer {
        let dir = tempfile::Builder::new()
            .prefix("crm-test-private-cluster-")
            .tempdir()
            .expect("cannot create a temporary folder for a private test cluster")
            .keep();
        let tools = ServerTools::find(dir);
        tools.spawn_watchdog();
        tools.initdb();
        tools.configure();
        let conf = tools.data().join("postgresql.conf");
        let mut text = fs::read_to_string(&conf).unwrap();
        // A commit is durable when crm is told so: these tests crash the server (fsync stays
        // off, since the machine itself does not crash).
        text.push_str("\nsynchronous_commit = on\n");
        text.push_str(settings);
        text.push('\n');
        fs::write(&conf, text).unwrap();
        let port = tools.start();
        let server = PrivateServer { tools, port };
        server
            .client("postgres")
            .batch_execute("CREATE DATABASE crm")
            .unwrap();
        super::crm()
            .args(["--database-url", &server.url("crm"), "db", "migrate"])
            .run()
            .assert_success();
        server
    }

    /// A superuser URL for `dbname` over TCP.
    pub fn url(&self, dbname: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{dbname}", self.port)
    }

    pub fn client(&self, dbname: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(dbname), postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to the private cluster: {e}"))
    }

    /// `crm --database-url <the crm database>`.
    pub fn crm(&self) -> super::Crm {
        let mut crm = super::crm();
        crm.args(["--database-url", &self.url("crm")]);
        crm
    }

    /// Its programs and folders, for a standby made from it ([`super::Standby`]).
    pub(super) fn tools(&self) -> &ServerTools {
        &self.tools
    }

    /// Stops the server at once, as a crash would.
    pub fn stop(&self) {
        self.tools.stop();
    }

    /// Starts it again on the same port.
    pub fn restart(&self) {
        self.tools.start_at(self.port);
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.tools.stop();
        let _ = fs::remove_dir_all(&self.tools.dir);
    }
}
