//! The PostgreSQL server the tests talk to, started once per test process on first use: a
//! throwaway cluster (`initdb` into a temporary folder, `pg_ctl start` on a free port, stopped
//! and deleted by a watchdog when the process ends, however it ends), or the server named by
//! `CRM_TEST_DATABASE_URL`. Each test process (nextest runs one per test) has its own cluster.

use super::crm::redact;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Trust on the socket and for most TCP logins; scram-sha-256 over TCP for the members of
/// `password_users`, so that tests of passwords, `.pgpass` and `PGPASSWORD` are really checked.
const PG_HBA: &str = "\
local all all                        trust
host  all +password_users 127.0.0.1/32 scram-sha-256
host  all all             127.0.0.1/32 trust
";

/// Idempotent even when several processes share one server and race to create it.
const CREATE_PASSWORD_USERS: &str = "DO $$ BEGIN CREATE ROLE password_users NOLOGIN; \
     EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$";

/// How often `pg_ctl start` is retried when another process took the port we picked meanwhile.
const START_ATTEMPTS: usize = 5;

/// The server every test database lives on. No `Debug`: its URL parts may hold a password.
pub struct Server {
    /// The TCP host, `127.0.0.1` for the throwaway cluster.
    pub host: String,
    pub port: u16,
    /// The folder of the Unix socket (for `CRM_TEST_DATABASE_URL`: `CRM_TEST_SOCKET_DIR`, by
    /// default `/var/run/postgresql`).
    pub socket_dir: PathBuf,
    /// `user` or `user:password`, percent-encoded as in a URL.
    userinfo: String,
    /// The database admin connections use.
    admin_db: String,
    /// The query string of `CRM_TEST_DATABASE_URL` (such as `sslmode=disable`), without `?`.
    params: String,
    /// The server log, when the cluster is ours.
    log: Option<PathBuf>,
    /// Whether the cluster, and with it every database, disappears when the tests end.
    removed_at_exit: bool,
}

/// The server, started (or reached) on first use.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let server = match std::env::var("CRM_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Server::existing(&url),
            _ => Server::throwaway(),
        };
        server
            .admin_client()
            .batch_execute(CREATE_PASSWORD_USERS)
            .unwrap_or_else(|e| panic!("cannot create the role password_users: {}", causes(&e)));
        server
    })
}

/// A TCP port on 127.0.0.1 that nothing listens on (at the moment of asking).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("cannot find a free TCP port on 127.0.0.1")
        .port()
}

impl Server {
    /// A URL for `dbname` over TCP, as the superuser.
    pub fn admin_url(&self, dbname: &str) -> String {
        let host = match self.host.contains(':') {
            true => format!("[{}]", self.host),
            false => self.host.clone(),
        };
        let params = match self.params.is_empty() {
            true => String::new(),
            false => format!("?{}", self.params),
        };
        format!(
            "postgresql://{}@{host}:{}/{dbname}{params}",
            self.userinfo, self.port
        )
    }

    /// A URL for `dbname` through the Unix socket, as the superuser.
    pub fn socket_url(&self, dbname: &str) -> String {
        format!(
            "postgresql://{}@/{dbname}?host={}&port={}",
            self.userinfo,
            self.socket_dir.display(),
            self.port
        )
    }

    /// A superuser connection to the server's admin database.
    pub fn admin_client(&self) -> postgres::Client {
        self.connect(&self.admin_url(&self.admin_db))
    }

    /// A connection to `url`, or a panic saying where the server log is.
    pub fn connect(&self, url: &str) -> postgres::Client {
        postgres::Client::connect(url, postgres::NoTls).unwrap_or_else(|e| {
            panic!(
                "cannot connect to {}: {}{}",
                redact(url),
                causes(&e),
                self.log_hint()
            )
        })
    }

    /// Where to look when the server misbehaves, for panic messages.
    pub(super) fn log_hint(&self) -> String {
        self.log
            .as_ref()
            .map(|log| format!(" (server log: {})", log.display()))
            .unwrap_or_default()
    }

    /// The user and password admin URLs log in with, as in a URL (percent-encoded): the
    /// password only when `CRM_TEST_DATABASE_URL` names one.
    pub(super) fn userinfo(&self) -> (&str, Option<&str>) {
        match self.userinfo.split_once(':') {
            Some((user, password)) => (user, Some(password)),
            None => (&self.userinfo, None),
        }
    }

    /// Whether a database kept after a failed test survives the end of the tests.
    pub(super) fn removed_at_exit(&self) -> bool {
        self.removed_at_exit
    }

    /// The server of `CRM_TEST_DATABASE_URL`: `postgresql://[user[:password]@]host[:port][/db][?params]`.
    fn existing(url: &str) -> Server {
        let bad = |why: &str| -> ! {
            panic!(
                "CRM_TEST_DATABASE_URL={} {why}: expected postgresql://user@host:port/db",
                redact(url)
            )
        };
        let rest = url
            .strip_prefix("postgresql://")
            .or_else(|| url.strip_prefix("postgres://"))
            .unwrap_or_else(|| bad("is not a postgresql:// URL"));
        let (rest, params) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = authority
            .rsplit_once('@')
            .unwrap_or(("postgres", authority));
        let (host, port) = match hostport.strip_prefix('[') {
            Some(v6) => {
                let (host, port) = v6.split_once(']').unwrap_or_else(|| bad("has no ']'"));
                (host, port.strip_prefix(':'))
            }
            None => match hostport.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            },
        };
        if host.is_empty() {
            bad("names no TCP host");
        }
        let port = port
            .map_or(Ok(5432), str::parse)
            .unwrap_or_else(|_| bad("has a bad port"));
        let socket_dir = std::env::var_os("CRM_TEST_SOCKET_DIR")
            .map_or_else(|| PathBuf::from("/var/run/postgresql"), PathBuf::from);
        Server {
            host: host.to_string(),
            port,
            socket_dir,
            userinfo: userinfo.to_string(),
            admin_db: if db.is_empty() { "postgres" } else { db }.to_string(),
            params: params.to_string(),
            log: None,
            removed_at_exit: false,
        }
    }

    /// A new cluster in a temporary folder, holding its data, socket and log.
    fn throwaway() -> Server {
        let dir = tempfile::Builder::new()
            .prefix("crm-test-cluster-")
            .tempdir()
            .expect("cannot create a temporary folder for the test cluster")
            .keep();
        let pg = ServerTools::find(dir.clone());
        let keep = std::env::var("CRM_TEST_KEEP_CLUSTER").is_ok_and(|v| v == "1");
        if !keep {
            // First, so that even a start that fails halfway leaves nothing behind.
            pg.spawn_watchdog();
        }
        pg.initdb();
        pg.configure();
        let port = pg.start();
        if keep {
            let runuser = pg.shell_prefix();
            eprintln!(
                "CRM_TEST_KEEP_CLUSTER=1: the test cluster stays in {} on port {port} \
                 (stop it with: {runuser}{} stop -D {})",
                dir.display(),
                pg.bin.join("pg_ctl").display(),
                pg.data().display()
            );
        }
        Server {
            host: "127.0.0.1".to_string(),
            port,
            socket_dir: dir,
            userinfo: "postgres".to_string(),
            admin_db: "postgres".to_string(),
            params: String::new(),
            log: Some(pg.log()),
            removed_at_exit: !keep,
        }
    }
}

/// The server's programs, run as the right user in the cluster's folder.
pub(super) struct ServerTools {
    bin: PathBuf,
    pub(super) dir: PathBuf,
    /// initdb refuses to run as root: as root, the cluster belongs to the `postgres` account,
    /// as Debian's own clusters do.
    pub(super) as_postgres: bool,
}

impl ServerTools {
    pub(super) fn find(dir: PathBuf) -> ServerTools {
        let as_postgres = rustix::process::geteuid().is_root();
        if as_postgres {
            let (uid, gid) = postgres_account();
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("cannot give {} to postgres: {e}", dir.display()));
        }
        ServerTools {
            bin: server_bin_dir(),
            dir,
            as_postgres,
        }
    }

    pub(super) fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub(super) fn log(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// `tool` from the server's bin folder, as the right user, with nothing on stdin.
    pub(super) fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        let mut cmd = match self.as_postgres {
            true => {
                let mut runuser = Command::new("runuser");
                runuser.args(["-u", "postgres", "--"]).arg(program);
                runuser
            }
            false => Command::new(program),
        };
        cmd.current_dir(&self.dir).stdin(Stdio::null());
        cmd
    }

    /// What a shell command line puts before a server program to run it as the right user.
    fn shell_prefix(&self) -> &'static str {
        match self.as_postgres {
            true => "runuser -u postgres -- ",
            false => "",
        }
    }

    /// A detached shell that waits for this process to end, then stops the cluster and deletes
    /// its folder. Started in the background of a shell we wait for, so that it is nobody's child
    /// but init's; in its own process group and with no inherited stdout/stderr, so that a test
    /// runner that kills the test's group, or waits for its output to close, neither stops it nor
    /// waits for it.
    pub(super) fn spawn_watchdog(&self) {
        let runuser = self.shell_prefix();
        let script = format!(
            r#"{{ while kill -0 "$1" 2>/dev/null; do sleep 0.5; done; {runuser}"$2" stop -D "$3" -m immediate; rm -rf "$4"; }} &"#
        );
        let started = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("crm-test-cluster-watchdog")
            .arg(std::process::id().to_string())
            .arg(self.bin.join("pg_ctl"))
            .arg(self.data())
            .arg(&self.dir)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .status();
        assert!(
            started.as_ref().is_ok_and(|status| status.success()),
            "cannot start the watchdog that removes the test cluster: {started:?}"
        );
    }

    pub(super) fn initdb(&self) {
        let mut failures = String::new();
        for locale in ["C.UTF-8", "C"] {
            let out = self
                .command("initdb")
                .arg("-D")
                .arg(self.data())
                .args(["--auth=trust", "--username=postgres", "--encoding=UTF8"])
                .arg(format!("--locale={locale}"))
                .arg("--no-sync")
                .output()
                .unwrap_or_else(|e| {
                    panic!("cannot run {}: {e}", self.bin.join("initdb").display())
                });
            if out.status.success() {
                return;
            }
            failures += &format!(
                "--- initdb --locale={locale}: {}\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let _ = fs::remove_dir_all(self.data());
        }
        panic!("initdb failed for the test cluster:\n{failures}");
    }

    pub(super) fn configure(&self) {
        let settings = format!(
            "\n# crm tests: throwaway data, many parallel connections, TCP on loopback only\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n\
             max_connections = 300\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\n",
            self.dir.display()
        );
        let data = self.data();
        OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .and_then(|mut conf| conf.write_all(settings.as_bytes()))
            .expect("cannot write the test cluster's postgresql.conf");
        // Overwriting keeps the file's owner (postgres, when we are root).
        fs::write(data.join("pg_hba.conf"), PG_HBA)
            .expect("cannot write the test cluster's pg_hba.conf");
    }

    /// Starts the server on `port` (a restart after [`Self::stop`]), waiting until it accepts.
    pub(super) fn start_at(&self, port: u16) {
        let status = self
            .command("pg_ctl")
            .args(["start", "-w", "-t", "60", "-D"])
            .arg(self.data())
            .arg("-l")
            .arg(self.log())
            .arg("-o")
            .arg(format!("-p {port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("cannot run pg_ctl");
        assert!(
            status.success(),
            "pg_ctl start failed ({status}):\n{}",
            tail(&self.log(), 30)
        );
    }

    /// Stops the server at once, as a crash or a power cut would (`-m immediate`).
    pub(super) fn stop(&self) {
        let _ = self
            .command("pg_ctl")
            .args(["stop", "-m", "immediate", "-D"])
            .arg(self.data())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Starts the server on a free port and returns the port, retrying with another port when
    /// someone took ours between our asking and the server binding it.
    pub(super) fn start(&self) -> u16 {
        let log = self.log();
        // pg_ctl's own messages; a file rather than a pipe, so nothing can hold it open on us.
        let pg_ctl_log = self.dir.join("pg_ctl.log");
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let log_before = fs::metadata(&log).map_or(0, |m| m.len());
            let messages = File::create(&pg_ctl_log).expect("cannot create pg_ctl.log");
            let status = self
                .command("pg_ctl")
                .args(["start", "-w", "-t", "60", "-D"])
                .arg(self.data())
                .arg("-l")
                .arg(&log)
                .arg("-o")
                .arg(format!("-p {port}"))
                .stdout(messages.try_clone().expect("cannot share pg_ctl.log"))
                .stderr(messages)
                .status()
                .expect("cannot run pg_ctl");
            if status.success() {
                return port;
            }
            let this_attempt = fs::read(&log).unwrap_or_default();
            let this_attempt = String::from_utf8_lossy(&this_attempt[log_before as usize..]);
            if !this_attempt.contains("could not bind") {
                panic!(
                    "pg_ctl start of the test cluster failed ({status}): {}\n\
                     --- last lines of the server log {} ---\n{}",
                    fs::read_to_string(&pg_ctl_log).unwrap_or_default().trim(),
                    log.display(),
                    tail(&log, 30)
                );
            }
        }
        panic!(
            "the test cluster could not bind a free port in {START_ATTEMPTS} attempts \
             (server log: {})\n{}",
            log.display(),
            tail(&log, 30)
        );
    }
}

/// The folder of `initdb` and `pg_ctl`: found on PATH first, else the highest
/// `/usr/lib/postgresql/<version>/bin`. Symlinks are resolved, so that the server's own
/// folder is used even when PATH holds links to it.
pub(super) fn server_bin_dir() -> PathBuf {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| has_tools(dir));
    let installed = || {
        fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let version: u32 = entry.file_name().to_str()?.parse().ok()?;
                Some((version, entry.path().join("bin")))
            })
            .filter(|(_, bin)| has_tools(bin))
            .max()
            .map(|(_, bin)| bin)
    };
    let dir = on_path.or_else(installed).unwrap_or_else(|| {
        panic!("the tests need PostgreSQL's initdb and pg_ctl: put them on PATH or install PostgreSQL under /usr/lib/postgresql")
    });
    fs::canonicalize(dir.join("initdb"))
        .ok()
        .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
        .filter(|real| has_tools(real))
        .unwrap_or(dir)
}

/// The uid and gid of the `postgres` system account.
pub(super) fn postgres_account() -> (u32, u32) {
    let out = Command::new("getent")
        .args(["passwd", "postgres"])
        .output()
        .expect("cannot run getent");
    let entry = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = entry.trim().split(':').collect();
    match (
        fields.get(2).map(|f| f.parse()),
        fields.get(3).map(|f| f.parse()),
    ) {
        (Some(Ok(uid)), Some(Ok(gid))) => (uid, gid),
        _ => panic!(
            "running as root, the test cluster must run as the postgres system account, which \
             does not exist: create it (adduser --system --group postgres) or run the tests as \
             another user"
        ),
    }
}

/// An error and its causes on one line: a `postgres::Error` shows only its kind ("db error"),
/// the server's message is its source.
pub(super) fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text += &format!(": {c}");
        cause = c.source();
    }
    text
}

/// The last `lines` lines of a file, for panic messages.
fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
