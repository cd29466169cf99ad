//! What crm writes beside each backup (`backup_<time>.dump.manifest.json`), how backup files
//! are named, and the folder's inventory that `list` and retention read.
//!
//! A backup is crm's only when its manifest says so: retention never touches a file without
//! one, so the original system's `backup_*.sql.gz` and anything else in the folder stay.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// The manifest's `format`: what wrote it, and the layout's version.
pub const FORMAT: &str = "crm-backup/1";

/// A temporary file of a backup being written: the prefix and suffix let a later run recognise
/// (and sweep) what a killed run left, and a failed backup leaves no `backup_*` file.
pub const PARTIAL_PREFIX: &str = ".crm-backup-";
pub const PARTIAL_SUFFIX: &str = ".partial";

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

    /// The manifest beside `backup`, if there is one. A manifest that exists but cannot be read
    /// is an error: it says the file is crm's, and something is wrong with it.
    pub fn read_beside(backup: &Path) -> Result<Option<Manifest>> {
        let path = Manifest::path_for(backup);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        let manifest: Manifest = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a crm backup manifest", path.display()))?;
        if manifest.format != FORMAT {
            anyhow::bail!(
                "{} has format \"{}\", and this crm reads \"{FORMAT}\"",
                path.display(),
                manifest.format
            );
        }
        Ok(Some(manifest))
    }
}

/// `backup_YYYYMMDD_HHMMSS` in UTC, the reference script's naming.
pub fn stamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}_{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
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
    pub manifest: Result<Option<Manifest>, String>,
}

impl Entry {
    /// When it was made: the manifest's time, else the file's.
    pub fn made_at(&self) -> Option<OffsetDateTime> {
        match &self.manifest {
            Ok(Some(m)) => Some(m.created_at),
            _ => self.modified,
        }
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
            manifest: Manifest::read_beside(&path).map_err(|e| format!("{e:#}")),
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
