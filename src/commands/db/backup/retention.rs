//! Which old backups a run may remove: only after a good backup, only crm's own (a manifest of
//! this database beside a file of the size it records), never the newest `keep_min` good ones,
//! and only those older than `keep_days`. A file that is not crm's, or that does not match its
//! manifest, is never removed: `list` shows it for a person to decide.

use super::manifest::Entry;
use time::{Duration, OffsetDateTime};

/// Whether `entry` is a good backup of `database`, by the cheap checks (its manifest, its name
/// and its size; `list` and `verify` also check the checksum).
pub fn is_good(entry: &Entry, database: &str) -> bool {
    entry.manifest().is_some_and(|m| {
        m.database == database
            && m.size == entry.size
            && entry.path.file_name().and_then(|n| n.to_str()) == Some(m.file.as_str())
    })
}

/// The backups to remove, of `entries` (newest first, as `inventory` returns them). The newest
/// `keep_min` good backups stay, and only those that `verifies` (their checksum: a backup that
/// no longer matches it would be no backup to fall back on) count towards `keep_min`; one that
/// does not verify is kept too, for a person to look at.
pub fn expired<'a>(
    entries: &'a [Entry],
    database: &str,
    now: OffsetDateTime,
    keep_days: u32,
    keep_min: u32,
    mut verifies: impl FnMut(&Entry) -> bool,
) -> Vec<&'a Entry> {
    let cutoff = now - Duration::days(i64::from(keep_days));
    let mut kept = 0;
    let mut out = Vec::new();
    for entry in entries.iter().filter(|e| is_good(e, database)) {
        if kept < keep_min {
            if verifies(entry) {
                kept += 1;
            }
            continue;
        }
        if entry.made_at().is_some_and(|t| t < cutoff) {
            out.push(entry);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::db::backup::manifest::{Beside, FORMAT, Manifest};
    use std::path::PathBuf;

    fn backup(name: &str, days_old: i64, database: &str, now: OffsetDateTime) -> Entry {
        let created_at = now - Duration::days(days_old);
        Entry {
            path: PathBuf::from(format!("/b/{name}")),
            size: 100,
            modified: Some(created_at),
            manifest: Ok(Beside::Manifest(Box::new(Manifest {
                format: FORMAT.into(),
                file: name.into(),
                size: 100,
                sha256: String::new(),
                created_at,
                database: database.into(),
                server_version: "15.0".into(),
                pg_dump_version: "15.0".into(),
                latest_migration: None,
                tables: vec![],
                duration_ms: 0,
            }))),
        }
    }

    fn names(entries: Vec<&Entry>) -> Vec<String> {
        entries
            .iter()
            .map(|e| e.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn old_good_backups_go_beyond_the_newest_keep_min() {
        let now = OffsetDateTime::now_utc();
        let entries: Vec<Entry> = (0..6)
            .map(|i| backup(&format!("backup_{i}.dump"), i * 10, "crm", now))
            .collect();
        // 0, 10, 20, 30, 40, 50 days old; keep 30 days, at least 2.
        assert_eq!(
            names(expired(&entries, "crm", now, 30, 2, |_| true)),
            ["backup_4.dump", "backup_5.dump"]
        );
        // keep_min protects even old ones.
        assert_eq!(
            names(expired(&entries, "crm", now, 30, 5, |_| true)),
            ["backup_5.dump"]
        );
        assert!(expired(&entries, "crm", now, 30, 6, |_| true).is_empty());
    }

    #[test]
    fn a_backup_that_fails_its_checksum_does_not_count_towards_keep_min() {
        let now = OffsetDateTime::now_utc();
        let entries: Vec<Entry> = (0..4)
            .map(|i| backup(&format!("backup_{i}.dump"), 40 + i * 10, "crm", now))
            .collect();
        // backup_0 no longer matches its checksum: backup_1 and backup_2 are the two kept, and
        // backup_0 stays as well.
        let damaged = |e: &Entry| !e.path.ends_with("backup_0.dump");
        assert_eq!(
            names(expired(&entries, "crm", now, 30, 2, damaged)),
            ["backup_3.dump"]
        );
    }

    #[test]
    fn files_that_are_not_good_backups_of_this_database_are_never_removed() {
        let now = OffsetDateTime::now_utc();
        let mut truncated = backup("backup_t.dump", 90, "crm", now);
        truncated.size = 50;
        let mut renamed = backup("backup_r.dump", 90, "crm", now);
        renamed.path = PathBuf::from("/b/backup_other.dump");
        let foreign = Entry {
            path: PathBuf::from("/b/backup_20200101.sql.gz"),
            size: 10,
            modified: Some(now - Duration::days(900)),
            manifest: Ok(Beside::Nothing),
        };
        let entries = vec![
            truncated,
            renamed,
            foreign,
            backup("backup_o.dump", 90, "other", now),
            backup("backup_c.dump", 90, "crm", now),
        ];
        assert_eq!(
            names(expired(&entries, "crm", now, 30, 0, |_| true)),
            ["backup_c.dump"]
        );
    }
}
