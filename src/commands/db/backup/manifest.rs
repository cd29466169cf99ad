//! What crm writes beside each backup (`backup_<time>.dump.manifest.json`), how backup files
//! are named, and the folder's inventory that `list` and retention read.
//!
//! A backup is crm's only when its manifest says so: retention never touches a file without
//! one, so the original system's `backup_*.sql.gz` and anything else in the folder stay.
//!
//! A manifest is read only if it is a regular file of at most [`MAX_MANIFEST`] bytes, opened
//! without following a symbolic link and without waiting: a FIFO under a manifest's name would
//! block `list` and retention (which holds the folder's lock) for ever, and a link to
//! `/dev/zero` would fill the memory. Anything else under that name is not crm's.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// The manifest's `format`: what wrote it, and the layout's version.
pub const FORMAT: &str = "crm-backup/1";

/// A temporary file of a backup being written: the prefix and suffix let a later run recognise
/// (and sweep) what a killed run left, and a failed backup leaves no `backup_*` file.
pub const PARTIAL_PREFIX: &str = ".crm-backup-";
pub const PARTIAL_SUFFIX: &str = ".partial";

/// The most a manifest may hold: crm's are under 4 KiB, so anything larger is not one of them.
pub const MAX_MANIFEST: u64 = 64 * 1024;

/// What is beside a backup under its manifest's name.
#[derive(Debug)]
pub enum Beside {
    /// Nothing.
    Nothing,
    /// Something crm never writes there, not read: `is a FIFO, not a regular file`, `is larger
    /// than 64 KiB`.
    Foreign(String),
    /// crm's manifest.
    Manifest(Box<Manifest>),
}

/// The manifest of one backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: String,
    /// The backup's file name, in the same folder as the manifest.
    pub file: String,
    pub size: u64,
    pub sha256: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub database: String,
    pub server_version: String,
    pub pg_dump_version: String,
    /// The newest applied migration (`10 search_indexes`), if the database has crm's history.
    pub latest_migration: Option<Migration>,
    /// The tables whose data the archive holds.
    pub tables: Vec<String>,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Migration {
    pub version: i32,
    pub name: String,
}

impl Manifest {
    /// `backup_20261202_013000.dump` -> `backup_20261202_013000.dump.manifest.json`.
    pub fn path_for(backup: &Path) -> PathBuf {
        let mut name = backup.file_name().unwrap_or_default().to_os_string();
        name.push(".manifest.json");
        backup.with_file_name(name)
    }

    /// The manifest beside `backup`, if there is one (for `verify` and `restore`, which check
    /// the file against it). A manifest that exists but cannot be read is an error: it says the
    /// file is crm's, and something is wrong with it; so is something crm never writes there.
    pub fn read_beside(backup: &Path) -> Result<Option<Manifest>> {
        match Manifest::beside(backup)? {
            Beside::Nothing => Ok(None),
            Beside::Manifest(m) => Ok(Some(*m)),
            Beside::Foreign(what) => anyhow::bail!(
                "{} {what}, so it is no manifest crm wrote: move it away to go without one",
                Manifest::path_for(backup).display()
            ),
        }
    }

    /// What is beside `backup` under its manifest's name (for the folder's inventory). A
    /// manifest that exists but cannot be read, or is not crm's JSON, is an error.
    pub fn beside(backup: &Path) -> Result<Beside> {
        let path = Manifest::path_for(backup);
        let text =
            match read_regular(&path).with_context(|| format!("cannot read {}", path.display()))? {
                Regular::Missing => return Ok(Beside::Nothing),
                Regular::Not(what) => return Ok(Beside::Foreign(what)),
                Regular::Read(text) => text,
            };
        let manifest: Manifest = serde_json::from_slice(&text)
            .with_context(|| format!("{} is not a crm backup manifest", path.display()))?;
        if manifest.format != FORMAT {
            anyhow::bail!(
                "{} has format \"{}\", and this crm reads \"{FORMAT}\"",
                path.display(),
                manifest.format
            );
        }
        Ok(Beside::Manifest(Box::new(manifest)))
    }
}

/// A file read only if it is a regular one of at most [`MAX_MANIFEST`] bytes.
enum Regular {
    Missing,
    /// What it is instead: `is a FIFO, not a regular file`.
    Not(String),
    Read(Vec<u8>),
}

/// Reads `path` if it is a regular file within [`MAX_MANIFEST`]. A symbolic link is not followed,
/// and the file is opened without blocking (`O_NONBLOCK`: a FIFO would wait for a writer) and
/// checked again once open, in case it was replaced in between.
fn read_regular(path: &Path) -> std::io::Result<Regular> {
    use rustix::fs::{Mode, OFlags};
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.is_file() => return Ok(Regular::Not(not_regular(&meta.file_type()))),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Regular::Missing),
        Err(e) => return Err(e),
    }
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY;
    let file = match rustix::fs::open(path, flags | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => std::fs::File::from(fd),
        Err(rustix::io::Errno::NOENT) => return Ok(Regular::Missing),
        Err(rustix::io::Errno::LOOP) => {
            return Ok(Regular::Not(
                "is a symbolic link, not a regular file".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(Regular::Not(not_regular(&meta.file_type())));
    }
    let mut text = Vec::new();
    file.take(MAX_MANIFEST + 1).read_to_end(&mut text)?;
    if text.len() as u64 > MAX_MANIFEST {
        return Ok(Regular::Not(format!(
            "is larger than {} KiB",
            MAX_MANIFEST / 1024
        )));
    }
    Ok(Regular::Read(text))
}

/// `is a FIFO, not a regular file`.
fn not_regular(kind: &std::fs::FileType) -> String {
    let what = if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "something else"
    };
    format!("is {what}, not a regular file")
}

/// `backup_YYYYMMDD_HHMMSS` in UTC, the reference script's naming.
pub fn stamp(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(time::macros::format_description!(
            "[year][month][day]_[hour][minute][second]"
        ))
        .unwrap_or_default()
}

/// The SHA-256 of a file, in lower-case hex, reading it in 1 MiB blocks.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// One `backup_*` file of a folder, with its manifest if crm wrote it.
#[derive(Debug)]
pub struct Entry {
    pub path: PathBuf,
    pub size: u64,
    pub modified: Option<OffsetDateTime>,
    /// What is beside it under its manifest's name, or why that cannot be read.
    pub manifest: Result<Beside, String>,
}

impl Entry {
    /// Its manifest, if crm wrote one that reads.
    pub fn manifest(&self) -> Option<&Manifest> {
        match &self.manifest {
            Ok(Beside::Manifest(m)) => Some(m.as_ref()),
            _ => None,
        }
    }

    /// When it was made: the manifest's time, else the file's.
    pub fn made_at(&self) -> Option<OffsetDateTime> {
        self.manifest()
            .map_or(self.modified, |m| Some(m.created_at))
    }
}

/// The `backup_*` files of `dir` (manifests and temporary files excluded), newest first.
pub fn inventory(dir: &Path) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let listing =
        std::fs::read_dir(dir).with_context(|| format!("cannot read folder {}", dir.display()))?;
    for item in listing {
        let item = item.with_context(|| format!("cannot read folder {}", dir.display()))?;
        let name = item.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with("backup_") || name.ends_with(".manifest.json") {
            continue;
        }
        let Ok(meta) = item.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let path = item.path();
        entries.push(Entry {
            manifest: Manifest::beside(&path).map_err(|e| format!("{e:#}")),
            size: meta.len(),
            modified: meta.modified().ok().map(OffsetDateTime::from),
            path,
        });
    }
    entries.sort_by(|a, b| b.made_at().cmp(&a.made_at()).then(b.path.cmp(&a.path)));
    Ok(entries)
}

/// Temporary files that earlier, failed or killed, runs left in `dir`.
pub fn partial_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(PARTIAL_PREFIX) && n.ends_with(PARTIAL_SUFFIX))
        })
        .map(|e| e.path())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_and_sort_as_text() {
        let t = time::macros::datetime!(2026-12-02 01:30:05 +02:00);
        assert_eq!(stamp(t), "20261201_233005");
    }

    #[test]
    fn manifests_sit_beside_their_backup() {
        assert_eq!(
            Manifest::path_for(Path::new("/b/backup_1.dump")),
            PathBuf::from("/b/backup_1.dump.manifest.json")
        );
    }

    #[test]
    fn only_a_regular_manifest_within_64_kib_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let backup = dir.path().join("backup_1.dump");
        let manifest = Manifest::path_for(&backup);
        let beside = || Manifest::beside(&backup).map_err(|e| format!("{e:#}"));
        assert!(matches!(beside(), Ok(Beside::Nothing)));

        std::os::unix::fs::symlink("/dev/zero", &manifest).unwrap();
        assert!(
            matches!(beside(), Ok(Beside::Foreign(w)) if w == "is a symbolic link, not a regular file")
        );
        std::fs::remove_file(&manifest).unwrap();

        std::fs::create_dir(&manifest).unwrap();
        assert!(
            matches!(beside(), Ok(Beside::Foreign(w)) if w == "is a folder, not a regular file")
        );
        std::fs::remove_dir(&manifest).unwrap();

        std::fs::write(&manifest, vec![b' '; 64 * 1024 + 1]).unwrap();
        assert!(matches!(beside(), Ok(Beside::Foreign(w)) if w == "is larger than 64 KiB"));
        let read = Manifest::read_beside(&backup).unwrap_err();
        assert!(
            format!("{read:#}").ends_with(
                "backup_1.dump.manifest.json is larger than 64 KiB, so it is no manifest crm \
                 wrote: move it away to go without one"
            ),
            "{read:#}"
        );
        std::fs::write(&manifest, vec![b' '; 64 * 1024]).unwrap();
        assert!(
            beside()
                .unwrap_err()
                .contains("is not a crm backup manifest")
        );
    }

    #[test]
    fn the_hash_of_a_file_is_its_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
