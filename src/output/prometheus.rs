//! Prometheus's text exposition format (version 0.0.4), for the commands whose results are
//! metrics: `db health` and `db backup list`.
//!
//! Every metric crm exports is a gauge (a state, a time, a size: each can go down), written as a
//! family: `# HELP`, `# TYPE`, then one sample per label set, without timestamps (node_exporter's
//! textfile collector refuses them). [`write_file`] replaces a file atomically, so that the
//! collector, which reads the folder whenever it is scraped, never sees half of one.

use anyhow::{Context, Result};
use std::io::{self, Write};
use std::path::Path;

/// One gauge family: its name (`crm_health_check_status`), its help text, and its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub samples: Vec<Sample>,
}

/// One sample of a family: its labels (`check="connections"`) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

impl Family {
    pub fn new(name: &'static str, help: &'static str) -> Self {
        Family {
            name,
            help,
            samples: Vec::new(),
        }
    }

    /// Adds a sample with these labels.
    pub fn push(&mut self, labels: &[(&'static str, &str)], value: f64) {
        self.samples.push(Sample {
            labels: labels.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            value,
        });
    }
}

/// Writes the families in order. A family without samples still gets its HELP and TYPE lines:
/// valid, and it names what an alert on its absence watches.
pub fn write(w: &mut dyn Write, families: &[Family]) -> io::Result<()> {
    for family in families {
        writeln!(w, "# HELP {} {}", family.name, escape_help(family.help))?;
        writeln!(w, "# TYPE {} gauge", family.name)?;
        for sample in &family.samples {
            w.write_all(family.name.as_bytes())?;
            if !sample.labels.is_empty() {
                let labels: Vec<String> = sample
                    .labels
                    .iter()
                    .map(|(name, value)| format!("{name}=\"{}\"", escape_label(value)))
                    .collect();
                write!(w, "{{{}}}", labels.join(","))?;
            }
            writeln!(w, " {}", number(sample.value))?;
        }
    }
    Ok(())
}

/// A HELP text: backslash and line feed escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A label's value: backslash, double quote and line feed escaped.
fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A value as Go's ParseFloat reads it: `3`, `0.25`, `NaN`, `+Inf`.
fn number(n: f64) -> String {
    if n.is_nan() {
        "NaN".into()
    } else if n.is_infinite() {
        if n > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        n.to_string()
    }
}

/// Replaces `path` with `bytes` so that a reader sees the old file or the new one, never part
/// of one: a temporary file in the same folder (named `.NAME.*.tmp`, which the textfile
/// collector's `*.prom` pattern skips), fsynced, readable by others (node_exporter runs as its
/// own user), renamed over `path`, then the folder fsynced so that the rename survives a crash.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .with_context(|| format!("--output {}: expected a file name", path.display()))?;
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let failed = || format!("cannot write {}", temp_name(dir, &name));
    temp.write_all(bytes).with_context(failed)?;
    temp.as_file().sync_all().with_context(failed)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .with_context(failed)?;
    }
    temp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot fsync folder {}", dir.display()))
}

fn temp_name(dir: &Path, name: &str) -> String {
    format!("a temporary file for {name} in {}", dir.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(families: &[Family]) -> String {
        let mut out = Vec::new();
        write(&mut out, families).expect("render");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn a_family_is_help_type_and_its_samples() {
        let mut status = Family::new("crm_health_check_status", "The state: 0 OK, 1 WARNING.");
        status.push(&[("check", "connections")], 0.0);
        status.push(&[("check", "cache-hit")], 1.0);
        let mut ratio = Family::new("crm_health_check_ratio", "A ratio.");
        ratio.push(&[("check", "cache-hit")], 0.985);
        let empty = Family::new("crm_backup_newest_size_bytes", "None yet.");
        assert_eq!(
            render(&[status, ratio, empty]),
            "# HELP crm_health_check_status The state: 0 OK, 1 WARNING.\n\
             # TYPE crm_health_check_status gauge\n\
             crm_health_check_status{check=\"connections\"} 0\n\
             crm_health_check_status{check=\"cache-hit\"} 1\n\
             # HELP crm_health_check_ratio A ratio.\n\
             # TYPE crm_health_check_ratio gauge\n\
             crm_health_check_ratio{check=\"cache-hit\"} 0.985\n\
             # HELP crm_backup_newest_size_bytes None yet.\n\
             # TYPE crm_backup_newest_size_bytes gauge\n"
        );
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut f = Family::new("crm_x", "back\\slash\nnew line");
        f.push(&[("database", "a\"b\\c\nd"), ("other", "e")], 35_836_158.0);
        f.push(&[], f64::NAN);
        f.push(&[], f64::INFINITY);
        f.push(&[], f64::NEG_INFINITY);
        assert_eq!(
            render(&[f]),
            "# HELP crm_x back\\\\slash\\nnew line\n\
             # TYPE crm_x gauge\n\
             crm_x{database=\"a\\\"b\\\\c\\nd\",other=\"e\"} 35836158\n\
             crm_x NaN\n\
             crm_x +Inf\n\
             crm_x -Inf\n"
        );
    }

    #[test]
    fn a_file_is_replaced_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join("crm.prom");
        std::fs::write(&path, "old\n").expect("an old file");
        write_file(&path, b"new\n").expect("written");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new\n");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("listing")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["crm.prom"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }
}
