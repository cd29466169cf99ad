//! Running the real `crm` binary, as ripgrep's tests do. Each [`Crm`] starts from a clean
//! environment with a fresh, empty `HOME` (so no developer's `~/.pgpass` or settings leak in),
//! stdin that is not a terminal, and a time limit; each [`Output`] assertion that fails prints
//! the command line (passwords hidden), exit status, stdout and stderr.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a run may take before it is killed and the test fails.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a finished crm's stdout and stderr may stay open: only something it started and
/// left running (a server that inherited them) would hold them longer.
const PIPES_GRACE: Duration = Duration::from_secs(5);

/// A `crm` command with a clean environment.
pub fn crm() -> Crm {
    Crm::new()
}

/// A `crm` command being built; it owns its temporary `HOME`, which lives as long as it does.
pub struct Crm {
    cmd: Command,
    home: tempfile::TempDir,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    /// The variables a test set or removed, shown in the command line.
    env_changed: Vec<OsString>,
}

/// What a finished run printed and how it ended.
pub struct Output {
    /// The command line as a shell would take it, passwords replaced by `***`.
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Crm {
    fn new() -> Crm {
        let home = tempfile::Builder::new()
            .prefix("crm-test-home-")
            .tempdir()
            .expect("cannot create a temporary HOME for crm");
        // Traversable like a real home, so that a local cluster that crm runs as postgres
        // (when the tests run as root) can reach $CRM_HOME inside it.
        fs::set_permissions(home.path(), fs::Permissions::from_mode(0o755))
            .expect("cannot set the permissions of the temporary HOME");
        let crm_home = home.path().join("crm");
        fs::create_dir(&crm_home).expect("cannot create CRM_HOME");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_crm"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("CRM_HOME", crm_home)
            .env("LANG", "C.UTF-8")
            .env("NO_COLOR", "1")
            .current_dir(home.path());
        Crm {
            cmd,
            home,
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
            env_changed: Vec::new(),
        }
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.env_changed.push(key.as_ref().to_owned());
        self.cmd.env(key, value);
        self
    }

    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.env_changed.push(key.as_ref().to_owned());
        self.cmd.env_remove(key);
        self
    }

    /// Bytes fed to crm's stdin (otherwise stdin is /dev/null; never a terminal).
    pub fn stdin(&mut self, bytes: impl Into<Vec<u8>>) -> &mut Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// The working directory (by default the temporary HOME).
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.cmd.current_dir(dir);
        self
    }

    /// How long [`Crm::run`] and [`Crm::wait`] wait before killing crm (default two minutes).
    pub fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    /// The temporary HOME, for files such as `.pgpass`.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Runs crm to the end.
    pub fn run(&mut self) -> Output {
        let child = self.spawn();
        self.wait(child)
    }

    /// Starts crm without waiting, stdout and stderr piped; finish with [`Crm::wait`].
    pub fn spawn(&mut self) -> Child {
        let stdin = match self.stdin {
            Some(_) => Stdio::piped(),
            None => Stdio::null(),
        };
        let mut child = self
            .cmd
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.command_line()));
        if let (Some(bytes), Some(mut pipe)) = (self.stdin.clone(), child.stdin.take()) {
            // A thread, so that a crm that does not read all its input cannot block us; crm
            // closing stdin early is its business.
            thread::spawn(move || pipe.write_all(&bytes));
        }
        child
    }

    /// Waits for a child of [`Crm::spawn`] and collects its output, within the time limit (a
    /// pipe the test took from the child is shown as empty).
    pub fn wait(&self, mut child: Child) -> Output {
        enum Event {
            Exited(std::io::Result<ExitStatus>),
            Stdout(Vec<u8>),
            Stderr(Vec<u8>),
        }
        let (tx, events) = mpsc::channel();
        // A pipe the test took (to read or close it itself) reads as empty.
        let read_all = |pipe: Option<Box<dyn Read + Send>>, event: fn(Vec<u8>) -> Event| {
            let tx = tx.clone();
            thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut buf);
                }
                let _ = tx.send(event(buf));
            });
        };
        let stdout: Option<Box<dyn Read + Send>> = child.stdout.take().map(|p| Box::new(p) as _);
        let stderr: Option<Box<dyn Read + Send>> = child.stderr.take().map(|p| Box::new(p) as _);
        read_all(stdout, Event::Stdout);
        read_all(stderr, Event::Stderr);
        let pid = child.id();
        thread::spawn(move || tx.send(Event::Exited(child.wait())));

        let (mut status, mut stdout, mut stderr) = (None, None, None);
        let mut deadline = Instant::now() + self.timeout;
        let mut problem = None;
        while status.is_none() || stdout.is_none() || stderr.is_none() {
            match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(Event::Exited(s)) => {
                    status = Some(s.expect("cannot wait for crm"));
                    deadline = deadline.min(Instant::now() + PIPES_GRACE);
                }
                Ok(Event::Stdout(bytes)) => stdout = Some(bytes),
                Ok(Event::Stderr(bytes)) => stderr = Some(bytes),
                Err(_) if problem.is_some() => break,
                Err(_) if status.is_some() => {
                    problem = Some(format!(
                        "crm exited, but its stdout or stderr stayed open {PIPES_GRACE:?} \
                         longer: something it started (a server?) inherited them"
                    ));
                    break;
                }
                Err(_) => {
                    problem = Some(format!(
                        "crm did not finish within {:?}; killed it",
                        self.timeout
                    ));
                    // Still crm's pid: only the waiting thread reaps it, and it has not reported.
                    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a child's pid");
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                    deadline = Instant::now() + PIPES_GRACE;
                }
            }
        }
        let text = |bytes: Option<Vec<u8>>| {
            String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned()
        };
        let output = Output {
            command: self.command_line(),
            status: status.unwrap_or_else(|| ExitStatus::from_raw(9)),
            stdout: text(stdout),
            stderr: text(stderr),
        };
        if let Some(problem) = problem {
            panic!("{problem}\n\n{output}");
        }
        output
    }

    /// The command as a shell would take it: the variables the test changed, then the arguments.
    fn command_line(&self) -> String {
        let envs: Vec<(&OsStr, Option<&OsStr>)> = self.cmd.get_envs().collect();
        let mut words = Vec::new();
        for (i, key) in self.env_changed.iter().enumerate() {
            if self.env_changed[..i].contains(key) {
                continue;
            }
            let value = envs.iter().find(|(k, _)| k == key).and_then(|(_, v)| *v);
            let key = key.to_string_lossy();
            words.push(match value {
                None => format!("-u {key}"),
                Some(_) if key.contains("PASSWORD") => format!("{key}=***"),
                Some(value) => format!("{key}={}", shell_quote(&redact(&value.to_string_lossy()))),
            });
        }
        if words.iter().any(|word| word.starts_with("-u ")) {
            words.sort_by_key(|word| !word.starts_with("-u "));
            words.insert(0, "env".to_string());
        }
        words.push("crm".to_string());
        words.extend(
            self.cmd
                .get_args()
                .map(|arg| shell_quote(&redact(&arg.to_string_lossy()))),
        );
        words.join(" ")
    }
}

impl Output {
    /// The exit code; a signal counts as 128 + its number, as shells report it.
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| 128 + self.status.signal().unwrap_or(0))
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        if !self.status.success() {
            self.fail("expected crm to succeed");
        }
        self
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        if self.code() != code {
            self.fail(&format!("expected exit code {code}, got {}", self.code()));
        }
        self
    }

    /// Stdout equals `expected` byte for byte.
    #[track_caller]
    pub fn assert_stdout_eq(&self, expected: &str) -> &Self {
        if self.stdout != expected {
            self.fail(&format!(
                "stdout differs\n--- expected ---\n{expected}\n--- expected (escaped) ---\n{expected:?}\n\
                 --- got (escaped) ---\n{:?}",
                self.stdout
            ));
        }
        self
    }

    #[track_caller]
    pub fn assert_stdout_contains(&self, needle: &str) -> &Self {
        if !self.stdout.contains(needle) {
            self.fail(&format!("expected stdout to contain {needle:?}"));
        }
        self
    }

    #[track_caller]
    pub fn assert_stderr_contains(&self, needle: &str) -> &Self {
        if !self.stderr.contains(needle) {
            self.fail(&format!("expected stderr to contain {needle:?}"));
        }
        self
    }

    #[track_caller]
    fn fail(&self, what: &str) -> ! {
        panic!("{what}\n\n{self}")
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |text: &str| match text.is_empty() {
            true => "(empty)\n".to_string(),
            false if text.ends_with('\n') => text.to_string(),
            false => format!("{text}\n(no newline at the end)\n"),
        };
        write!(
            f,
            "command: {}\nstatus: {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.command,
            self.status,
            shown(&self.stdout),
            shown(&self.stderr)
        )
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `text` with the password of a URL (`scheme://user:PASSWORD@host`) and any `password=VALUE`
/// (a URL parameter or a libpq keyword) replaced by `***`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    if let Some(scheme_end) = out.find("://") {
        let start = scheme_end + 3;
        let end = out[start..]
            .find(['/', '?', ' '])
            .map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..end].rfind('@').map(|i| start + i)
            && let Some(colon) = out[start..at].find(':').map(|i| start + i)
        {
            out.replace_range(colon + 1..at, "***");
        }
    }
    let mut from = 0;
    while let Some(found) = out[from..].to_ascii_lowercase().find("password=") {
        let value = from + found + "password=".len();
        let end = out[value..]
            .find(['&', ' '])
            .map_or(out.len(), |i| value + i);
        out.replace_range(value..end, "***");
        from = value + 3;
    }
    out
}

/// `word`, single-quoted when a shell would otherwise split or expand it.
fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_=.,/:@%+".contains(c);
    match !word.is_empty() && word.chars().all(plain) {
        true => word.to_string(),
        false => format!("'{}'", word.replace('\'', r"'\''")),
    }
}

/// Runs `crm ARGS` on a pseudo-terminal (util-linux `script`), as a person at a terminal would,
/// typing `input`; returns the exit code and the screen (stdout and stderr, as a terminal shows
/// them, control sequences and all).
pub fn crm_on_terminal(args: &[&str], input: &str) -> (i32, String) {
    let home = tempfile::tempdir().expect("cannot create a temporary HOME");
    let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_crm"))
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let mut child = Command::new("script")
        .args(["-qec", &quoted.join(" "), "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("TERM", "xterm")
        .env("COLUMNS", "100")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the terminal tests need util-linux's script");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    let out = child.wait_with_output().expect("cannot wait for script");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}
