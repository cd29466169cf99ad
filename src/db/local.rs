//! The embedded default: a private PostgreSQL cluster under `$CRM_HOME`, used when no database
//! is configured.
//!
//! It is created with `initdb` and started with `pg_ctl` on first use, listens only on a Unix
//! socket inside `$CRM_HOME/run` (no TCP port), and trusts whoever can reach that socket: the
//! socket folder is private (0700) to the account that runs the server. PostgreSQL refuses to run
//! as root, so when crm runs as root the server runs as the `postgres` system account, as
//! Debian's own clusters do.
//!
//! Layout: `$CRM_HOME/data` (the cluster), `$CRM_HOME/run` (the socket), `$CRM_HOME/log/server.log`,
//! `$CRM_HOME/crm.lock` (held while creating, starting or stopping, so that two crm runs at once do
//! not both try).

use super::settings::{ConnSettings, Source, SslMode, TargetSessionAttrs};
use crate::error;
use crate::output::Output;
use anyhow::{Context, Result, bail};
use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The name of the superuser and of the database crm uses in its local cluster.
const NAME: &str = "crm";
/// The port only names the socket file (`.s.PGSQL.5432`); there is no TCP listener.
const PORT: u16 = 5432;
/// The system account that runs the server when crm runs as root.
const SERVER_ACCOUNT: &str = "postgres";

pub struct Cluster {
    home: PathBuf,
    /// Run the server tools as the `postgres` account (crm runs as root).
    as_server_account: bool,
}

/// What `crm db local status` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    NotCreated,
    Stopped,
    Running { pid: u32 },
}

impl Cluster {
    /// The cluster of `$CRM_HOME`; by default `$XDG_DATA_HOME/crm` (`~/.local/share/crm`), or
    /// `/var/lib/crm` for root, whose home the `postgres` account cannot enter.
    pub fn from_env() -> Result<Cluster> {
        let root = rustix::process::geteuid().is_root();
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let home = if let Some(home) = var("CRM_HOME") {
            PathBuf::from(home)
        } else if root {
            PathBuf::from("/var/lib/crm")
        } else if let Some(data) = var("XDG_DATA_HOME") {
            PathBuf::from(data).join("crm")
        } else if let Some(home) = var("HOME") {
            PathBuf::from(home).join(".local/share/crm")
        } else {
            return Err(error::usage(
                "no database is configured and neither CRM_HOME nor HOME is set: set \
                 DATABASE_URL, or CRM_HOME for crm's local cluster",
            ));
        };
        let home = std::path::absolute(&home)
            .with_context(|| format!("invalid CRM_HOME \"{}\"", home.display()))?;
        Ok(Cluster {
            home,
            as_server_account: root,
        })
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    fn data_dir(&self) -> PathBuf {
        self.home.join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.home.join("run")
    }

    fn log_file(&self) -> PathBuf {
        self.home.join("log/server.log")
    }

    /// How to connect: the socket folder, as the superuser, to the `crm` database.
    pub fn settings(&self) -> ConnSettings {
        ConnSettings {
            hosts: vec![self.socket_dir().display().to_string()],
            ports: vec![PORT],
            user: NAME.to_string(),
            password: None,
            passwords_by_host: None,
            dbname: NAME.to_string(),
            sslmode: SslMode::Disable,
            sslrootcert: None,
            connect_timeout: Some(Duration::from_secs(10)),
            application_name: Some("crm".to_string()),
            target_session_attrs: TargetSessionAttrs::Any,
            source: Source::Local,
        }
    }

    /// A libpq URL for psql, pg_dump or DATABASE_URL.
    pub fn url(&self) -> String {
        const PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'/')
            .remove(b'-')
            .remove(b'_')
            .remove(b'.');
        let host = self.socket_dir().display().to_string();
        format!(
            "postgresql://{NAME}@/{NAME}?host={}",
            percent_encoding::utf8_percent_encode(&host, PATH)
        )
    }

    /// Whether the cluster exists and runs. `pg_ctl status` is the authority: a stale
    /// `postmaster.pid` after a crash is not a running server.
    pub fn state(&self) -> Result<State> {
        if !self.data_dir().join("PG_VERSION").exists() {
            return Ok(State::NotCreated);
        }
        let bin = server_bin_dir()?;
        let output = self
            .server_command(&bin.join("pg_ctl"))
            .arg("status")
            .arg("-D")
            .arg(self.data_dir())
            .stdin(Stdio::null())
            .output()
            .context("cannot run pg_ctl status")?;
        match output.status.code() {
            Some(0) => {
                // "pg_ctl: server is running (PID: 1234)"
                let text = String::from_utf8_lossy(&output.stdout);
                let pid = text
                    .split("PID: ")
                    .nth(1)
                    .and_then(|s| s.split(')').next())
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0);
                Ok(State::Running { pid })
            }
            Some(3) => Ok(State::Stopped),
            _ => bail!(
                "pg_ctl status failed for the local cluster in {}: {}",
                self.data_dir().display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        }
    }

    /// Creates the cluster if it does not exist and starts it if it does not run, saying so in
    /// one notice; returns how to connect to it.
    pub async fn ensure_running(&self, out: &Output) -> Result<ConnSettings> {
        let done = self.ensure_running_quietly().await?;
        let what = match done {
            Started::AlreadyRunning => "",
            Started::Started => " (started it)",
            Started::Created => " (created and started it)",
        };
        out.notice(format!(
            "notice: no database configured: using crm's local PostgreSQL in {}{what}",
            self.home.display()
        ));
        Ok(self.settings())
    }

    pub async fn ensure_running_quietly(&self) -> Result<Started> {
        self.prepare_home()?;
        let _lock = self.lock()?;
        let done = match self.state()? {
            State::Running { .. } => return Ok(Started::AlreadyRunning),
            State::Stopped => Started::Started,
            State::NotCreated => {
                self.check_reachable()?;
                self.create()?;
                Started::Created
            }
        };
        self.check_reachable()?;
        self.start()?;
        self.ensure_database().await?;
        Ok(done)
    }

    /// Stops the server (fast shutdown). Returns false if it was not running.
    pub fn stop(&self) -> Result<bool> {
        if !self.home.exists() {
            return Ok(false);
        }
        let _lock = self.lock()?;
        if !matches!(self.state()?, State::Running { .. }) {
            return Ok(false);
        }
        let bin = server_bin_dir()?;
        self.run_server_tool(
            self.server_command(&bin.join("pg_ctl"))
                .args(["stop", "-w", "-t", "60", "-m", "fast", "-D"])
                .arg(self.data_dir()),
            "pg_ctl stop",
        )?;
        Ok(true)
    }

    /// The server's major version, from the cluster's PG_VERSION.
    pub fn version(&self) -> Option<String> {
        fs::read_to_string(self.data_dir().join("PG_VERSION"))
            .ok()
            .map(|v| v.trim().to_string())
    }

    /// `$CRM_HOME` must exist (0711 as root: postgres may pass through, nobody may list it).
    fn prepare_home(&self) -> Result<()> {
        let mode = if self.as_server_account { 0o711 } else { 0o700 };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(&self.home)
            .with_context(|| format!("cannot create CRM_HOME {}", self.home.display()))
    }

    /// When the server runs as `postgres`, that account must be able to reach `$CRM_HOME`;
    /// checked before creating or starting, where the server's own error would be obscure.
    fn check_reachable(&self) -> Result<()> {
        if !self.as_server_account {
            return Ok(());
        }
        let reachable = Command::new("runuser")
            .args(["-u", SERVER_ACCOUNT, "--", "test", "-x"])
            .arg(&self.home)
            .stdin(Stdio::null())
            .status()
            .context("cannot run runuser (util-linux) to check CRM_HOME")?
            .success();
        if reachable {
            return Ok(());
        }
        Err(error::usage(format!(
            "the {SERVER_ACCOUNT} account, which runs crm's local PostgreSQL when crm runs as \
             root, cannot reach {}: set CRM_HOME to a folder it can enter (such as \
             /var/lib/crm), or make that folder and its parents searchable (chmod o+x)",
            self.home.display()
        )))
    }

    /// An exclusive lock on `$CRM_HOME/crm.lock`, released when the file is dropped.
    fn lock(&self) -> Result<fs::File> {
        let path = self.home.join("crm.lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        file.lock()
            .with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(file)
    }

    /// initdb into a temporary folder, configured, then renamed into place, so that a failed
    /// or interrupted creation never leaves a half-made cluster under the final name.
    fn create(&self) -> Result<()> {
        let bin = server_bin_dir()?;
        // Under the lock nobody else is creating: what staging folders there are, interrupted
        // runs left behind.
        for entry in fs::read_dir(&self.home)
            .with_context(|| format!("cannot read {}", self.home.display()))?
            .flatten()
        {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with("data.creating-")
            {
                fs::remove_dir_all(entry.path())
                    .with_context(|| format!("cannot remove {}", entry.path().display()))?;
            }
        }
        let staging = self
            .home
            .join(format!("data.creating-{}", std::process::id()));
        for dir in [staging.clone(), self.socket_dir(), self.home.join("log")] {
            self.make_server_dir(&dir)?;
        }
        let mut initdb = self.server_command(&bin.join("initdb"));
        initdb.arg("-D").arg(&staging).args([
            "--username",
            NAME,
            "--auth=trust",
            "--encoding=UTF8",
        ]);
        if Path::new("/usr/lib/locale/C.utf8").exists() {
            initdb.arg("--locale=C.UTF-8");
        } else {
            initdb.arg("--no-locale");
        }
        let result = self.run_server_tool(&mut initdb, "initdb").and_then(|()| {
            let mut conf = format!(
                "\n# crm's local cluster: Unix socket only, private to the server's account.\n\
                 listen_addresses = ''\n\
                 unix_socket_directories = '{}'\n\
                 unix_socket_permissions = 0700\n\
                 port = {PORT}\n",
                self.socket_dir().display().to_string().replace('\'', "''")
            );
            // So that `db health` can name the slowest statements (after CREATE EXTENSION
            // pg_stat_statements). Only when the server ships the library: a preload it cannot
            // find would stop the server from starting.
            if ships_pg_stat_statements(&bin) {
                conf.push_str(
                    "# The slowest statements, for crm db health.\n\
                     shared_preload_libraries = 'pg_stat_statements'\n",
                );
            }
            let path = staging.join("postgresql.conf");
            let mut text = fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            text.push_str(&conf);
            fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
        });
        if let Err(e) = result {
            let _ = fs::remove_dir_all(&staging);
            return Err(e.context(format!(
                "cannot create crm's local PostgreSQL cluster in {}",
                self.home.display()
            )));
        }
        fs::rename(&staging, self.data_dir()).with_context(|| {
            format!(
                "cannot move the new cluster to {}",
                self.data_dir().display()
            )
        })
    }

    fn start(&self) -> Result<()> {
        let bin = server_bin_dir()?;
        self.run_server_tool(
            self.server_command(&bin.join("pg_ctl"))
                .args(["start", "-w", "-t", "60", "-D"])
                .arg(self.data_dir())
                .arg("-l")
                .arg(self.log_file()),
            "pg_ctl start",
        )
        .with_context(|| {
            format!(
                "cannot start crm's local PostgreSQL (its log: {})",
                self.log_file().display()
            )
        })
    }

    /// Creates the `crm` database on a fresh cluster (or one whose creation was interrupted).
    async fn ensure_database(&self) -> Result<()> {
        let mut config = self.settings().to_pg_config();
        config.dbname("postgres");
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .context("cannot connect to crm's local PostgreSQL")?;
        let connection = tokio::spawn(connection);
        let exists = !super::query(
            &client,
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&NAME],
        )
        .await?
        .is_empty();
        if !exists {
            // An identifier crm controls, not user input.
            client
                .batch_execute(&format!("CREATE DATABASE \"{NAME}\""))
                .await
                .context("cannot create the crm database in the local cluster")?;
        }
        drop(client);
        let _ = connection.await;
        Ok(())
    }

    /// A folder the server writes to: private, and owned by `postgres` when crm is root.
    fn make_server_dir(&self, dir: &Path) -> Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot set the permissions of {}", dir.display()))?;
        if self.as_server_account {
            let (uid, gid) = account_ids(SERVER_ACCOUNT)?;
            std::os::unix::fs::chown(dir, Some(uid), Some(gid))
                .with_context(|| format!("cannot give {} to {SERVER_ACCOUNT}", dir.display()))?;
        }
        Ok(())
    }

    /// A server tool, run as `postgres` when crm is root.
    fn server_command(&self, tool: &Path) -> Command {
        if self.as_server_account {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", SERVER_ACCOUNT, "--"]).arg(tool);
            cmd
        } else {
            Command::new(tool)
        }
    }

    /// Runs a server tool with no terminal and nothing inherited (the server it may start must
    /// not hold crm's output open), failing with its own words.
    fn run_server_tool(&self, cmd: &mut Command, what: &str) -> Result<()> {
        let output = cmd
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {what}"))?;
        if output.status.success() {
            return Ok(());
        }
        let mut text = String::from_utf8_lossy(&output.stderr).trim().to_string();
        if text.is_empty() {
            text = String::from_utf8_lossy(&output.stdout).trim().to_string();
        }
        bail!("{what} failed ({}): {text}", output.status)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    AlreadyRunning,
    Started,
    Created,
}

/// Where PostgreSQL's programs may be, in the order crm looks: the folders of PATH, then the
/// installed `/usr/lib/postgresql/<version>/bin`, newest first.
pub fn pg_bin_candidates() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.cmp(a));
    dirs.extend(versions.into_iter().map(|(_, bin)| bin));
    dirs
}

/// The folder with `initdb`, `pg_ctl` and `postgres`: from PATH, else the newest
/// `/usr/lib/postgresql/*/bin`.
pub fn server_bin_dir() -> Result<PathBuf> {
    let has_tools = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|t| dir.join(t).is_file())
    };
    pg_bin_candidates()
        .into_iter()
        .find(|dir| has_tools(dir))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no PostgreSQL server found for crm's local cluster (initdb, pg_ctl and postgres \
                 on PATH or under /usr/lib/postgresql/*/bin): install PostgreSQL (Debian: apt-get \
                 install postgresql), or set DATABASE_URL to use an existing server"
            )
        })
}

/// Whether the server of `bin` ships pg_stat_statements: Debian's postgresql-NN package does,
/// in `/usr/lib/postgresql/NN/lib`; source builds and most packages put it in `../lib` or
/// `../lib/postgresql` beside the real `postgres` (`bin` may hold only links to it).
fn ships_pg_stat_statements(bin: &Path) -> bool {
    let real_bin = fs::canonicalize(bin.join("postgres"))
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    [Some(bin.to_path_buf()), real_bin]
        .into_iter()
        .flatten()
        .filter_map(|b| b.parent().map(Path::to_path_buf))
        .any(|prefix| {
            ["lib", "lib/postgresql", "lib64/pgsql", "lib/pgsql"]
                .iter()
                .any(|lib| prefix.join(lib).join("pg_stat_statements.so").is_file())
        })
}

/// The uid and gid of a system account, from `getent passwd` (so NSS sources count too).
fn account_ids(account: &str) -> Result<(u32, u32)> {
    let output = Command::new("getent")
        .args(["passwd", account])
        .stdin(Stdio::null())
        .output()
        .context("cannot run getent")?;
    let line = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<&str> = line.trim().split(':').collect();
    match (
        fields.get(2).map(|s| s.parse()),
        fields.get(3).map(|s| s.parse()),
    ) {
        (Some(Ok(uid)), Some(Ok(gid))) => Ok((uid, gid)),
        _ => bail!(
            "there is no {account} system account to run crm's local PostgreSQL as (crm runs as \
             root, and PostgreSQL refuses to): install PostgreSQL's Debian package, which creates \
             it, or run crm as another user"
        ),
    }
}
