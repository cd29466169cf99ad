//! Where an export (or a rejects file) goes: standard output, or a file that a reader never
//! sees half-written. A regular file is written under a temporary name in the same folder,
//! fsynced, and renamed into place; a failure (or Ctrl-C) removes the temporary file and leaves
//! whatever was under the name before. A device or FIFO (`/dev/null`, `<(...)`) is written
//! directly: renaming over it would replace it.

use anyhow::{Context as _, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Large writes: COPY hands over one row at a time.
const BUFFER: usize = 256 * 1024;

pub struct Target {
    sink: Sink,
    /// The name to report: the path as given, or `standard output`.
    pub name: String,
}

enum Sink {
    Stdout(BufWriter<io::StdoutLock<'static>>),
    Temporary {
        file: BufWriter<tempfile::NamedTempFile>,
        path: PathBuf,
    },
    Direct(BufWriter<File>),
}

/// A file written and fsynced under its temporary name, waiting to be renamed into place.
pub struct Written {
    file: Option<(tempfile::NamedTempFile, PathBuf)>,
}

impl Target {
    /// Standard output for `None` or `-`, else the file `path`.
    pub fn create(path: Option<&Path>) -> Result<Target> {
        match path {
            None => Ok(Target::stdout()),
            Some(p) if p.as_os_str() == "-" => Ok(Target::stdout()),
            Some(p) => Target::file(p),
        }
    }

    fn stdout() -> Target {
        Target {
            sink: Sink::Stdout(BufWriter::with_capacity(BUFFER, io::stdout().lock())),
            name: "standard output".to_string(),
        }
    }

    fn file(path: &Path) -> Result<Target> {
        let name = path.display().to_string();
        // Write beside what a symbolic link points to, and keep the link.
        let real = resolve_links(path)
            .with_context(|| format!("cannot follow the symbolic link {name}"))?;
        let existing = match fs::metadata(&real) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("cannot write {name}")),
        };
        if let Some(meta) = &existing {
            if meta.is_dir() {
                return Err(crate::error::usage(format!(
                    "{name} is a folder: name the file to write"
                )));
            }
            if !meta.is_file() {
                let file = OpenOptions::new()
                    .write(true)
                    .open(&real)
                    .with_context(|| format!("cannot open {name} for writing"))?;
                return Ok(Target {
                    sink: Sink::Direct(BufWriter::with_capacity(BUFFER, file)),
                    name,
                });
            }
        }
        let folder = match real.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file_name = real
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // New files get the usual mode (0666 less the umask); a replaced file keeps its own.
        let mode = existing.as_ref().map_or(0o666, |m| m.permissions().mode());
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{file_name}."))
            .suffix(".tmp")
            .permissions(fs::Permissions::from_mode(mode))
            .tempfile_in(&folder)
            .with_context(|| {
                format!(
                    "cannot create a temporary file in the folder {} to write {name}",
                    folder.display()
                )
            })?;
        if existing.is_some() {
            fs::set_permissions(temp.path(), fs::Permissions::from_mode(mode))
                .with_context(|| format!("cannot give the new {name} the old one's mode"))?;
        }
        Ok(Target {
            sink: Sink::Temporary {
                file: BufWriter::with_capacity(BUFFER, temp),
                path: real,
            },
            name,
        })
    }

    /// Whether this is standard output.
    pub fn is_stdout(&self) -> bool {
        matches!(self.sink, Sink::Stdout(_))
    }

    /// Flushes everything and fsyncs a file; [`Written::persist`] then puts it in place.
    pub fn finish(self) -> Result<Written> {
        let name = self.name;
        match self.sink {
            Sink::Stdout(mut out) => {
                out.flush().context("cannot write to standard output")?;
                Ok(Written { file: None })
            }
            Sink::Direct(out) => {
                out.into_inner()
                    .map_err(|e| e.into_error())
                    .with_context(|| format!("cannot write {name}"))?;
                Ok(Written { file: None })
            }
            Sink::Temporary { file, path } => {
                let temp = file
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .with_context(|| format!("cannot write {name}"))?;
                temp.as_file()
                    .sync_all()
                    .with_context(|| format!("cannot write {name}: fsync failed"))?;
                Ok(Written {
                    file: Some((temp, path)),
                })
            }
        }
    }
}

impl Write for Target {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.sink {
            Sink::Stdout(w) => w.write(buf),
            Sink::Temporary { file, .. } => file.write(buf),
            Sink::Direct(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.sink {
            Sink::Stdout(w) => w.write_all(buf),
            Sink::Temporary { file, .. } => file.write_all(buf),
            Sink::Direct(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Stdout(w) => w.flush(),
            Sink::Temporary { file, .. } => file.flush(),
            Sink::Direct(w) => w.flush(),
        }
    }
}

/// `path` with symbolic links followed to what they point to, which need not exist yet.
fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut path = path.to_path_buf();
    // As many as Linux follows before ELOOP.
    for _ in 0..40 {
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&path)?;
                path = match path.parent() {
                    Some(folder) if target.is_relative() => folder.join(target),
                    _ => target,
                };
            }
            _ => return Ok(path),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

impl Written {
    /// Renames the temporary file into place and fsyncs its folder, so that the new name
    /// survives a crash.
    pub fn persist(self) -> Result<()> {
        let Some((temp, path)) = self.file else {
            return Ok(());
        };
        temp.persist(&path)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot rename the finished file to {}", path.display()))?;
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Best effort: not every file system lets a folder be fsynced.
            if let Ok(dir) = File::open(folder) {
                let _ = dir.sync_all();
            }
        } else if let Ok(dir) = File::open(".") {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}
