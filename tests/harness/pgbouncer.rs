//! A PgBouncer in transaction pooling in front of a test server, as operators put one in front
//! of a CRM that outgrew one server: Debian's `/usr/sbin/pgbouncer`, run as a daemon (as the
//! `postgres` account when the tests run as root) from a folder of its own holding its
//! generated `pgbouncer.ini`, `auth_file`, log and pid file; stopped and removed with the value
//! (a watchdog stops and removes it too should the test process die). The pool is small
//! (`default_pool_size = 2`), so that clients really share server connections.

use super::PrivateServer;
use super::cluster::{causes, free_port, postgres_account, server};
use super::crm::redact;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's PgBouncer (`.ci/run` installs the package when it is missing).
const PGBOUNCER: &str = "/usr/sbin/pgbouncer";

/// How often the start is retried when another process took the port we picked meanwhile.
const START_ATTEMPTS: usize = 5;

/// How long a start may take before the test fails.
const START_LIMIT: Duration = Duration::from_secs(30);

pub struct PgBouncer {
    dir: PathBuf,
    pub port: u16,
    /// The user clients log in as, percent-encoded as in a URL.
    user: String,
}

/// Where the pooled server is and who logs in to it.
struct Upstream<'a> {
    host: &'a str,
    port: u16,
    /// Percent-encoded, as in a URL.
    user: &'a str,
    password: Option<&'a str>,
}

impl PgBouncer {
    /// A PgBouncer in front of the shared test server ([`server`]), started, with
    /// `extra_settings` (lines of `key = value`) appended to its `[pgbouncer]` section, where
    /// a later key wins over the harness's.
    pub fn in_front_of_test_server(extra_settings: &str) -> PgBouncer {
        let server = server();
        let (user, password) = server.userinfo();
        let upstream = Upstream {
            host: &server.host,
            port: server.port,
            user,
            password,
        };
        PgBouncer::start(&upstream, extra_settings)
    }

    /// A PgBouncer in front of a private cluster, as [`PgBouncer::in_front_of_test_server`].
    pub fn in_front_of(private: &PrivateServer, extra_settings: &str) -> PgBouncer {
        let upstream = Upstream {
            host: "127.0.0.1",
            port: private.port,
            user: "postgres",
            password: None,
        };
        PgBouncer::start(&upstream, extra_settings)
    }

    /// A URL for `dbname` through the pooler, over TCP; no password (the pooler trusts its
    /// users, and logs in to the server with the `auth_file`'s).
    pub fn url(&self, dbname: &str) -> String {
        format!(
            "postgresql://{}@127.0.0.1:{}/{dbname}",
            self.user, self.port
        )
    }

    /// The last lines of its log, for panic messages.
    pub fn log(&self) -> String {
        let text = fs::read_to_string(self.log_file()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "--- last lines of the PgBouncer log {} ---\n{}",
            self.log_file().display(),
            lines[lines.len().saturating_sub(40)..].join("\n")
        )
    }

    fn log_file(&self) -> PathBuf {
        self.dir.join("pgbouncer.log")
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("pgbouncer.pid")
    }

    fn ini_file(&self) -> PathBuf {
        self.dir.join("pgbouncer.ini")
    }

    fn start(upstream: &Upstream, extra_settings: &str) -> PgBouncer {
        assert!(
            Path::new(PGBOUNCER).is_file(),
            "the pooler tests need PgBouncer at {PGBOUNCER}: apt-get install pgbouncer \
             (.ci/run does)"
        );
        let dir = tempfile::Builder::new()
            .prefix("crm-test-pgbouncer-")
            .tempdir()
            .expect("cannot create a temporary folder for PgBouncer")
            .keep();
        let as_postgres = rustix::process::geteuid().is_root();
        if as_postgres {
            // PgBouncer refuses to run as root, and writes its log and pid file here.
            let (uid, gid) = postgres_account();
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("cannot give {} to postgres: {e}", dir.display()));
        }
        let mut bouncer = PgBouncer {
            dir,
            port: 0,
            user: upstream.user.to_string(),
        };
        // First, so that even a start that fails halfway leaves nothing behind.
        bouncer.spawn_watchdog();
        let user = percent_decoded(upstream.user);
        let password = upstream.password.map(percent_decoded).unwrap_or_default();
        // PgBouncer's trust still wants the user listed; the password is what it logs in to the
        // server with, should the server ask for one.
        fs::write(
            bouncer.dir.join("userlist.txt"),
            format!("{} {}\n", quoted(&user), quoted(&password)),
        )
        .expect("cannot write PgBouncer's auth_file");
        for _ in 0..START_ATTEMPTS {
            bouncer.port = free_port();
            fs::write(bouncer.ini_file(), bouncer.ini(upstream, extra_settings))
                .expect("cannot write pgbouncer.ini");
            let log_before = fs::metadata(bouncer.log_file()).map_or(0, |m| m.len());
            let mut cmd = match as_postgres {
                true => {
                    let mut runuser = Command::new("runuser");
                    runuser.args(["-u", "postgres", "--", PGBOUNCER]);
                    runuser
                }
                false => Command::new(PGBOUNCER),
            };
            let out = cmd
                .arg("-d")
                .arg(bouncer.ini_file())
                .current_dir(&bouncer.dir)
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("cannot run {PGBOUNCER}: {e}"));
            assert!(
                out.status.success(),
                "{PGBOUNCER} -d failed ({}): {}{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                bouncer.log()
            );
            if bouncer.wait_until_accepting(log_before) {
                return bouncer;
            }
        }
        panic!(
            "PgBouncer could not bind a free port in {START_ATTEMPTS} attempts\n{}",
            bouncer.log()
        );
    }

    /// The generated `pgbouncer.ini`: every database of the upstream server, `extra_settings`
    /// last in the `[pgbouncer]` section.
    fn ini(&self, upstream: &Upstream, extra_settings: &str) -> String {
        format!(
            "[databases]\n\
             * = host={host} port={port}\n\
             \n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {listen}\n\
             unix_socket_dir =\n\
             auth_type = trust\n\
             auth_file = {dir}/userlist.txt\n\
             pool_mode = transaction\n\
             default_pool_size = 2\n\
             max_client_conn = 200\n\
             ignore_startup_parameters = extra_float_digits\n\
             logfile = {log}\n\
             pidfile = {pid}\n\
             {extra_settings}\n",
            host = upstream.host,
            port = upstream.port,
            listen = self.port,
            dir = self.dir.display(),
            log = self.log_file().display(),
            pid = self.pid_file().display(),
        )
    }

    /// Waits until a client gets a server connection through the pooler: true once one did,
    /// false when the daemon gave up because the port was taken (the caller tries another),
    /// and a panic with the log on any other failure. `log_before` is the log's length before
    /// this start, so that an earlier attempt's messages do not count. (Not the harness's
    /// `wait_until`: this loop must tell a taken port from a failure.)
    fn wait_until_accepting(&self, log_before: u64) -> bool {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let last_error = match postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
                .and_then(|mut client| client.simple_query("SELECT 1"))
            {
                Ok(_) => return true,
                Err(e) => causes(&e),
            };
            // The daemon reports a failed start only in its log (its parent exits 0 first).
            let log = fs::read(self.log_file()).unwrap_or_default();
            let this_attempt =
                String::from_utf8_lossy(&log[(log_before as usize).min(log.len())..]).into_owned();
            if this_attempt.contains("FATAL") {
                if this_attempt.contains("Address already in use") {
                    return false;
                }
                panic!("PgBouncer could not start ({last_error})\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "PgBouncer at {} accepted no connection within {START_LIMIT:?}: {last_error}\n{}",
                redact(&self.url("postgres")),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The daemon's pid, from its pid file.
    fn pid(&self) -> Option<rustix::process::Pid> {
        let text = fs::read_to_string(self.pid_file()).ok()?;
        rustix::process::Pid::from_raw(text.trim().parse().ok()?)
    }

    /// A detached shell that waits for this process to end, then stops PgBouncer and deletes its
    /// folder: the pattern of the test cluster's watchdog (nobody's child but init's, in its own
    /// process group, no inherited stdout/stderr).
    fn spawn_watchdog(&self) {
        let script = r#"{ while kill -0 "$1" 2>/dev/null; do sleep 0.5; done; pid=$(cat "$2" 2>/dev/null) && kill "$pid" 2>/dev/null; sleep 1; rm -rf "$3"; } &"#;
        let started = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("crm-test-pgbouncer-watchdog")
            .arg(std::process::id().to_string())
            .arg(self.pid_file())
            .arg(&self.dir)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .status();
        assert!(
            started.as_ref().is_ok_and(|status| status.success()),
            "cannot start the watchdog that stops the test PgBouncer: {started:?}"
        );
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            // SIGTERM is PgBouncer 1.18's immediate shutdown; SIGKILL should it not go.
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let gone = || rustix::process::test_kill_process(pid).is_err();
            let deadline = Instant::now() + Duration::from_secs(5);
            while !gone() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if !gone() {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `text` in double quotes, a double quote doubled, as an `auth_file` spells names.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// A URL part with its `%XX` escapes decoded.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
