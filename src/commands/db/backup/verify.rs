//! Whether a file is a backup that can be restored: what kind it is (by its first bytes, not
//! its name), whether it matches its manifest, and whether it reads back in full.
//!
//! A backup file is input like any other: one that is not a backup, is truncated or has a
//! flipped byte is bad input (exit 2) named with what was expected, before anything is written.

use super::manifest::{self, Manifest};
use super::tools::Tool;
use crate::error;
use anyhow::{Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// What a backup file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    /// `pg_dump --format=custom`: what `crm db backup` writes.
    Custom,
    /// A plain SQL dump compressed with gzip: the original system's `backup_*.sql.gz`.
    PlainGzip,
    /// A plain SQL dump.
    Plain,
}

impl ArchiveKind {
    pub fn label(self) -> &'static str {
        match self {
            ArchiveKind::Custom => "pg_dump custom archive",
            ArchiveKind::PlainGzip => "gzipped SQL dump",
            ArchiveKind::Plain => "SQL dump",
        }
    }
}

const EXPECTED: &str = "expected a backup made by crm db backup or pg_dump --format=custom, or \
                        a plain SQL dump (.sql, or .sql.gz as the original system's script wrote)";

/// The kind of `path`, by its first bytes. A missing file is exit 3, anything else exit 2.
pub fn kind_of(path: &Path) -> Result<ArchiveKind> {
    let mut file = std::fs::File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            error::not_found(format!("backup file {} does not exist", path.display()))
        } else {
            anyhow::Error::from(e).context(format!("cannot open {}", path.display()))
        }
    })?;
    let mut head = Vec::with_capacity(4096);
    (&mut file)
        .take(4096)
        .read_to_end(&mut head)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if head.starts_with(b"PGDMP") {
        return Ok(ArchiveKind::Custom);
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(ArchiveKind::PlainGzip);
    }
    let text = match std::str::from_utf8(&head) {
        Ok(text) => Some(text),
        // The block may end inside a character.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    let looks_like_sql = text.is_some_and(|t| {
        !t.contains('\0')
            && t.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .is_some_and(|l| {
                    l.starts_with("--") || l.starts_with("SET ") || l.starts_with("\\")
                })
    });
    if looks_like_sql {
        return Ok(ArchiveKind::Plain);
    }
    if head.is_empty() {
        return Err(error::usage(format!(
            "{} is empty: {EXPECTED}",
            path.display()
        )));
    }
    Err(error::usage(format!(
        "{} is not a backup: {EXPECTED}",
        path.display()
    )))
}

/// The file's size and SHA-256 against its manifest's.
pub async fn check_checksum(path: &Path, manifest: &Manifest) -> Result<()> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if size != manifest.size {
        return Err(error::usage(format!(
            "{} is {size} bytes, and its manifest says {}: the file is truncated or was changed \
             after crm wrote it",
            path.display(),
            manifest.size
        )));
    }
    let owned: PathBuf = path.to_path_buf();
    let sha = tokio::task::spawn_blocking(move || manifest::sha256_file(&owned))
        .await
        .context("the checksum task failed")??;
    if sha != manifest.sha256 {
        return Err(error::usage(format!(
            "{} does not match its manifest's SHA-256 (the file has {}, the manifest {}): the \
             file was damaged or changed after crm wrote it",
            path.display(),
            short(&sha),
            short(&manifest.sha256)
        )));
    }
    Ok(())
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Reads the whole file back the way a restore would, without a database: a custom archive
/// through `pg_restore` (its table of contents, then every data block into /dev/null), a gzip
/// stream to its end and its CRC. Returns the tables whose data a custom archive holds.
pub async fn read_back(path: &Path, kind: ArchiveKind) -> Result<Vec<String>> {
    match kind {
        ArchiveKind::Custom => {
            let pg_restore = Tool::find("pg_restore").await?;
            read_back_custom(&pg_restore, path)
                .await
                .map_err(|e| error::usage(format!("{e:#}")))
        }
        ArchiveKind::PlainGzip => {
            let owned = path.to_path_buf();
            tokio::task::spawn_blocking(move || read_gzip(&owned))
                .await
                .context("the decompression task failed")??;
            Ok(Vec::new())
        }
        ArchiveKind::Plain => Ok(Vec::new()),
    }
}

/// `pg_restore --list`, then `pg_restore --file=/dev/null`, which reads every data block. Its
/// error is plain: a backup that pg_dump just wrote and that does not read back is no user's
/// bad input.
pub async fn read_back_custom(pg_restore: &Tool, path: &Path) -> Result<Vec<String>> {
    let bad = |e: anyhow::Error| {
        anyhow::anyhow!(
            "{} cannot be read back as an archive ({e:#}): it is truncated, damaged, or not a \
             pg_dump archive",
            path.display()
        )
    };
    let mut list = tokio::process::Command::new(&pg_restore.path);
    list.arg("--list")
        .arg(path)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = list
        .output()
        .await
        .with_context(|| format!("cannot run {}", pg_restore.path.display()))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        return Err(bad(anyhow::anyhow!("{}", said.trim().replace('\n', "; "))));
    }
    let tables = data_tables(&String::from_utf8_lossy(&output.stdout));

    let mut full = tokio::process::Command::new(&pg_restore.path);
    full.arg("--file=/dev/null")
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = full
        .spawn()
        .with_context(|| format!("cannot run {}", pg_restore.path.display()))?;
    let finished = super::tools::finish(child).await?;
    if !finished.status.success() {
        return Err(bad(anyhow::anyhow!(
            "{}",
            finished.stderr.trim().replace('\n', "; ")
        )));
    }
    Ok(tables)
}

/// The tables with a `TABLE DATA` entry in a `pg_restore --list` table of contents.
fn data_tables(toc: &str) -> Vec<String> {
    let mut tables: Vec<String> = toc
        .lines()
        .filter(|l| !l.starts_with(';'))
        .filter_map(|l| {
            let (_, rest) = l.split_once(" TABLE DATA ")?;
            let mut words = rest.split_whitespace();
            let _schema = words.next()?;
            words.next().map(str::to_string)
        })
        .collect();
    tables.sort();
    tables
}

fn read_gzip(path: &Path) -> Result<()> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut decoder = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
    std::io::copy(&mut decoder, &mut std::io::sink()).map_err(|e| {
        error::usage(format!(
            "{} is not a complete gzip file ({e}): it is truncated or damaged",
            path.display()
        ))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_toc_names_the_tables_with_data() {
        let toc = ";\n; Archive created at 2026-12-02\n;\n\
                   215; 1259 16386 TABLE public Users crm\n\
                   3366; 0 16386 TABLE DATA public Users crm\n\
                   3367; 0 16390 TABLE DATA public Customers crm\n\
                   3370; 0 0 SEQUENCE SET public Users_id_seq crm\n";
        assert_eq!(data_tables(toc), ["Customers", "Users"]);
    }

    #[test]
    fn kinds_come_from_the_first_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let kind = |p: &Path| kind_of(p).map_err(|e| format!("{e:#}"));
        assert_eq!(kind(&write("a", b"PGDMP\x01\x0e")), Ok(ArchiveKind::Custom));
        assert_eq!(
            kind(&write("b", &[0x1f, 0x8b, 8, 0])),
            Ok(ArchiveKind::PlainGzip)
        );
        assert_eq!(
            kind(&write("c", b"--\n-- PostgreSQL database dump\n")),
            Ok(ArchiveKind::Plain)
        );
        let err = kind(&write("d.dump", b"hello world")).unwrap_err();
        assert!(err.contains("is not a backup: expected"), "{err}");
        let err = kind(&write("e.dump", b"")).unwrap_err();
        assert!(err.contains("is empty"), "{err}");
        let err = kind_of(&dir.path().join("missing")).unwrap_err();
        assert_eq!(
            crate::error::kind_of(&err),
            Some(crate::error::Kind::NotFound)
        );
    }
}
