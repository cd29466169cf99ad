//! `crm db health`: what check_postgres and pghero check, in one command for a monitoring
//! system or a cron job.
//!
//! Each check measures one figure and grades it OK, WARNING or CRITICAL against its thresholds
//! (the anchors' defaults, overridden with `--warning NAME=VALUE` / `--critical NAME=VALUE`), or
//! UNKNOWN when it cannot run (a missing privilege, a timeout). A check of an optional feature
//! the server lacks (`slow-statements` without pg_stat_statements) is skipped instead, OK with a
//! note, unless `--check` names it: a default server must be able to be OK. Every query runs on one dedicated
//! connection under `statement_timeout` 5 s and `lock_timeout` 50 ms, so that a health check
//! never adds to an incident. The exit code is the monitoring convention, not SPEC's usual
//! table: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the worst of the checks, CRITICAL before
//! WARNING before UNKNOWN; 3 alone when the database cannot be reached, and for bad arguments,
//! which `main` sees to). This module owns the
//! checks' definitions, their thresholds and rendering; `checks` their SQL.

mod checks;

use crate::context::Context;
use crate::error;
use crate::error::ExitStatus;
use crate::output::prometheus::Family;
use crate::output::{Format, Rows, Tone, Value};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

/// `crm db health`'s options.
#[derive(Debug, Args)]
#[command(
    after_help = "Checks: connection, migrations, schema (skipped on a standby), connections, cache-hit, long-queries, \
    idle-in-transaction, blocked, dead-tuples, vacuum-age, analyze-age, xid-age, sequences, \
    invalid-indexes, unused-indexes, database-size, table-size, slow-statements (skipped, with a \
    note, where pg_stat_statements is not installed, unless named by --check), role (primary or \
    standby), replication-lag (each standby's replay lag, seen on the primary), replay-delay (on \
    a standby; WARNING when replay is paused), replication-slots (WAL held by inactive slots), \
    archiver (WAL archiving failing), backup-age (with --backup-dir).\n\nExit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the database cannot \
    be reached, a check cannot run, or the arguments are bad)."
)]
pub struct HealthArgs {
    /// Override a check's warning threshold, e.g. --warning connections=80% or
    /// --warning idle-in-transaction=30s (repeatable)
    #[arg(long = "warning", visible_alias = "warn", value_name = "NAME=VALUE")]
    pub warning: Vec<String>,

    /// Override a check's critical threshold, e.g. --critical sequences=90% (repeatable)
    #[arg(long = "critical", visible_alias = "crit", value_name = "NAME=VALUE")]
    pub critical: Vec<String>,

    /// Run only these checks (names as in the output's check column)
    #[arg(long = "check", value_name = "NAME", value_delimiter = ',', num_args = 1..)]
    pub check: Vec<String>,

    /// Leave out these checks (e.g. --exclude unused-indexes)
    #[arg(long, value_name = "NAME", value_delimiter = ',', num_args = 1..)]
    pub exclude: Vec<String>,

    /// Also check that the newest backup_* file in DIR is recent (warning 1 day, critical 2)
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,

    /// Print one Nagios plugin status line with perfdata instead of rows
    #[arg(long)]
    pub nagios: bool,

    /// With -o prometheus: write the metrics to FILE, replaced atomically (for node_exporter's
    /// textfile collector, e.g. /var/lib/node_exporter/textfile/crm.prom), instead of stdout
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// A check's outcome, ordered by how loudly it must be heard: CRITICAL, then WARNING, then
/// UNKNOWN (a check that could not run), then OK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }

    /// The monitoring convention's code: the exit code, and the Prometheus gauge's value.
    fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }

    fn exit_status(self) -> ExitStatus {
        ExitStatus::new(self.code())
    }

    fn rank(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Unknown => 1,
            Status::Warning => 2,
            Status::Critical => 3,
        }
    }

    fn worst(self, other: Status) -> Status {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    fn tone(self) -> Tone {
        match self {
            Status::Ok => Tone::Good,
            Status::Warning => Tone::Warning,
            Status::Critical => Tone::Bad,
            Status::Unknown => Tone::Unknown,
        }
    }
}

/// The exit code of a `db health` run that ends without a verdict (bad arguments, a malformed
/// setting, an error): UNKNOWN, as check_postgres and the plugin guidelines have it, since a
/// monitoring system reads 1 as WARNING and 2 as CRITICAL. A signal's own code (130, 143, 129)
/// stays: it says the run was stopped, and any code above 3 is UNKNOWN to Nagios anyway.
pub fn unknown_unless_signalled(code: u8) -> u8 {
    use error::Kind;
    let signalled = [Kind::Interrupted, Kind::Terminated, Kind::HungUp]
        .iter()
        .any(|k| i32::from(code) == k.exit_code());
    match signalled {
        true => code,
        false => 3,
    }
}

/// What a check's figure measures, which decides how its thresholds are written and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// A duration in seconds: `500ms`, `60s`, `5m`, `2h`, `1d` (a bare number is seconds).
    Seconds,
    /// A percentage: `90%` or `90`.
    Percent,
    /// A size in bytes: `500MiB`, `10GiB` (powers of 1024, also written `500MB`; a bare
    /// number is bytes).
    Bytes,
    /// A count.
    Count,
}

/// One check: its name, what it measures and its default thresholds.
struct Spec {
    name: &'static str,
    /// `None`: graded by the check itself (migrations), no thresholds to set.
    unit: Option<Unit>,
    /// The figure is bad when low (cache hit ratio) rather than when high.
    low_is_bad: bool,
    warning: Option<f64>,
    critical: Option<f64>,
}

const DAY: f64 = 86_400.0;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Every check, in the order they run and print, with check_postgres's and pghero's defaults.
const SPECS: &[Spec] = &[
    spec("connection", Some(Unit::Seconds), Some(1.0), Some(5.0)),
    spec("migrations", None, None, None),
    spec("schema", None, None, None),
    spec("connections", Some(Unit::Percent), Some(90.0), Some(95.0)),
    Spec {
        low_is_bad: true,
        ..spec("cache-hit", Some(Unit::Percent), Some(99.0), None)
    },
    spec("long-queries", Some(Unit::Seconds), Some(60.0), None),
    spec("idle-in-transaction", Some(Unit::Seconds), Some(60.0), None),
    spec("blocked", Some(Unit::Seconds), Some(5.0), Some(60.0)),
    spec("dead-tuples", Some(Unit::Percent), Some(100.0), Some(200.0)),
    spec(
        "vacuum-age",
        Some(Unit::Seconds),
        Some(DAY),
        Some(2.0 * DAY),
    ),
    spec(
        "analyze-age",
        Some(Unit::Seconds),
        Some(DAY),
        Some(2.0 * DAY),
    ),
    spec("xid-age", Some(Unit::Percent), Some(90.0), Some(95.0)),
    spec("sequences", Some(Unit::Percent), Some(85.0), Some(95.0)),
    spec("invalid-indexes", Some(Unit::Count), Some(1.0), None),
    spec("unused-indexes", Some(Unit::Count), None, None),
    spec("database-size", Some(Unit::Bytes), None, None),
    spec("table-size", Some(Unit::Bytes), None, None),
    spec("slow-statements", Some(Unit::Seconds), Some(0.020), None),
    spec("role", None, None, None),
    spec(
        "replication-lag",
        Some(Unit::Seconds),
        Some(60.0),
        Some(300.0),
    ),
    spec("replay-delay", Some(Unit::Seconds), Some(60.0), Some(300.0)),
    spec("replication-slots", Some(Unit::Bytes), Some(GIB), None),
    spec("archiver", Some(Unit::Count), Some(1.0), None),
    spec(
        "backup-age",
        Some(Unit::Seconds),
        Some(DAY),
        Some(2.0 * DAY),
    ),
];

const fn spec(
    name: &'static str,
    unit: Option<Unit>,
    warning: Option<f64>,
    critical: Option<f64>,
) -> Spec {
    Spec {
        name,
        unit,
        low_is_bad: false,
        warning,
        critical,
    }
}

/// A check chosen to run, with its thresholds after the command line's overrides.
#[derive(Clone, Copy)]
struct Chosen {
    spec: &'static Spec,
    warning: Option<f64>,
    critical: Option<f64>,
    /// Named by `--check`: a check that cannot run here is then UNKNOWN, never skipped.
    asked: bool,
}

impl Chosen {
    /// The status of `figure` against the thresholds (a threshold is reached when met).
    fn grade(&self, figure: f64) -> Status {
        let reached = |limit: Option<f64>| {
            limit.is_some_and(|l| {
                if self.spec.low_is_bad {
                    figure < l
                } else {
                    figure >= l
                }
            })
        };
        if reached(self.critical) {
            Status::Critical
        } else if reached(self.warning) {
            Status::Warning
        } else {
            Status::Ok
        }
    }

    fn shown(&self, limit: Option<f64>) -> Value {
        match (limit, self.spec.unit) {
            (Some(l), Some(unit)) => {
                let text = format_figure(unit, l);
                Value::Text(if self.spec.low_is_bad {
                    format!("< {text}")
                } else {
                    text
                })
            }
            _ => Value::Null,
        }
    }
}

/// What a check found.
pub(crate) struct Finding {
    /// The graded figure, in the check's unit; `None` when there is nothing to measure (no
    /// sessions idle in transaction, no backup).
    figure: Option<f64>,
    /// The figure as a person reads it (`3 of 100 (3%)`).
    value: String,
    message: String,
    /// At least this status, whatever the figure (partial visibility, a pending migration).
    floor: Status,
    /// Not run, for a reason the message gives (an optional extension absent): OK, and named
    /// as skipped.
    skipped: bool,
}

impl Finding {
    fn new(figure: Option<f64>, value: impl Into<String>, message: impl Into<String>) -> Self {
        Finding {
            figure,
            value: value.into(),
            message: message.into(),
            floor: Status::Ok,
            skipped: false,
        }
    }

    /// A check that does not apply here, with why: OK, its value `skipped`, so that a server
    /// without an optional feature is not forever UNKNOWN to the monitoring system.
    fn skipped(why: impl std::fmt::Display) -> Self {
        Finding {
            skipped: true,
            ..Finding::new(None, "skipped", format!("skipped: {why}"))
        }
    }

    fn at_least(mut self, status: Status) -> Self {
        self.floor = self.floor.worst(status);
        self
    }
}

/// A check's row of the report.
struct Outcome {
    chosen: Chosen,
    status: Status,
    finding: Finding,
}

pub async fn run(ctx: &Context, args: HealthArgs) -> Result<ExitStatus> {
    let chosen = choose(&args)?;
    let metrics = ctx.out.format == Format::Prometheus;
    if metrics && args.nagios {
        return Err(error::usage(
            "--nagios and -o prometheus are two formats: choose one",
        ));
    }
    if args.output.is_some() && !metrics {
        return Err(error::usage(
            "--output FILE writes the metrics of -o prometheus: add -o prometheus, or leave \
             --output out to print to standard output",
        ));
    }
    let outcomes = checks::run_all(ctx, &chosen, args.backup_dir.as_deref()).await?;
    let worst = outcomes
        .iter()
        .fold(Status::Ok, |worst, o| worst.worst(o.status));
    match metrics {
        true => ctx
            .out
            .metrics(&prometheus(&outcomes, worst), args.output.as_deref())?,
        false => render(ctx, &outcomes, args.nagios)?,
    }
    Ok(worst.exit_status())
}

fn known_names() -> String {
    SPECS.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

fn find_spec(name: &str, flag: &str) -> Result<&'static Spec> {
    SPECS.iter().find(|s| s.name == name).ok_or_else(|| {
        error::usage(format!(
            "{flag} {name}: no such check (the checks are {})",
            known_names()
        ))
    })
}

/// The checks to run, validated, with their thresholds.
fn choose(args: &HealthArgs) -> Result<Vec<Chosen>> {
    for name in &args.check {
        find_spec(name, "--check")?;
    }
    for name in &args.exclude {
        find_spec(name, "--exclude")?;
    }
    if args.backup_dir.is_none() && args.check.iter().any(|n| n == "backup-age") {
        return Err(error::usage(
            "--check backup-age needs --backup-dir DIR, the folder of the backups",
        ));
    }
    let mut chosen: Vec<Chosen> = SPECS
        .iter()
        .filter(|s| args.check.is_empty() || args.check.iter().any(|n| n == s.name))
        .filter(|s| !args.exclude.iter().any(|n| n == s.name))
        .filter(|s| s.name != "backup-age" || args.backup_dir.is_some())
        .map(|spec| Chosen {
            spec,
            warning: spec.warning,
            critical: spec.critical,
            asked: args.check.iter().any(|n| n == spec.name),
        })
        .collect();
    for (flag, given, critical) in [
        ("--warning", &args.warning, false),
        ("--critical", &args.critical, true),
    ] {
        for item in given {
            let (name, value) = item.split_once('=').ok_or_else(|| {
                error::usage(format!(
                    "{flag} {item}: expected NAME=VALUE, e.g. {flag} connections=80%"
                ))
            })?;
            let spec = find_spec(name, flag)?;
            let unit = spec.unit.ok_or_else(|| {
                error::usage(format!("{flag} {name}: this check takes no threshold"))
            })?;
            let limit = parse_figure(unit, value)
                .map_err(|why| error::usage(format!("{flag} {item}: {why}")))?;
            if let Some(c) = chosen.iter_mut().find(|c| c.spec.name == name) {
                match critical {
                    true => c.critical = Some(limit),
                    false => c.warning = Some(limit),
                }
            }
        }
    }
    Ok(chosen)
}

/// Parses a threshold written in `unit`.
fn parse_figure(unit: Unit, text: &str) -> Result<f64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| format!("expected a non-negative number{}", unit_hint(unit)))?;
    let factor = match (unit, suffix.trim().to_ascii_lowercase().as_str()) {
        (Unit::Seconds, "ms") => 0.001,
        (Unit::Seconds, "" | "s") => 1.0,
        (Unit::Seconds, "m" | "min") => 60.0,
        (Unit::Seconds, "h") => 3600.0,
        (Unit::Seconds, "d") => DAY,
        (Unit::Percent, "" | "%") => 1.0,
        (Unit::Bytes, "" | "b") => 1.0,
        (Unit::Bytes, "kb" | "k" | "kib") => 1024.0,
        (Unit::Bytes, "mb" | "m" | "mib") => 1024.0 * 1024.0,
        (Unit::Bytes, "gb" | "g" | "gib") => 1024.0 * 1024.0 * 1024.0,
        (Unit::Bytes, "tb" | "t" | "tib") => 1024.0_f64.powi(4),
        (Unit::Count, "") => 1.0,
        (_, other) => return Err(format!("unknown unit {other:?}{}", unit_hint(unit))),
    };
    Ok(number * factor)
}

fn unit_hint(unit: Unit) -> &'static str {
    match unit {
        Unit::Seconds => " with ms, s, m, h or d (e.g. 30s)",
        Unit::Percent => " percent (e.g. 80%)",
        Unit::Bytes => {
            " with B, KiB, MiB, GiB or TiB (powers of 1024; kB, MB, ... mean the same; e.g. 10GiB)"
        }
        Unit::Count => " (a count)",
    }
}

/// A figure as thresholds are written: `60s`, `1d`, `90%`, `10.0 GiB`.
fn format_figure(unit: Unit, figure: f64) -> String {
    match unit {
        Unit::Seconds => format_seconds(figure),
        Unit::Percent => format!("{}%", trim_number(figure)),
        Unit::Bytes => format_bytes(figure),
        Unit::Count => trim_number(figure),
    }
}

fn trim_number(n: f64) -> String {
    let text = format!("{n:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub(crate) fn format_seconds(s: f64) -> String {
    if s < 1.0 && s > 0.0 {
        format!("{}ms", trim_number(s * 1000.0))
    } else if s >= DAY && (s / DAY).fract() == 0.0 {
        format!("{}d", s / DAY)
    } else if s >= DAY {
        format!("{}d", trim_number(s / DAY))
    } else if s >= 3600.0 {
        format!("{}h", trim_number(s / 3600.0))
    } else if s >= 600.0 {
        format!("{}m", trim_number(s / 60.0))
    } else {
        format!("{}s", trim_number(s))
    }
}

/// A figure in bytes as every size is shown ([`crate::output::byte_size`]: `7.2 MiB`).
pub(crate) fn format_bytes(b: f64) -> String {
    // `as` saturates: a negative or NaN figure (none is) would read 0 B.
    crate::output::byte_size(b as u64)
}

const COLUMNS: [&str; 6] = ["check", "status", "value", "warning", "critical", "message"];

fn render(ctx: &Context, outcomes: &[Outcome], nagios: bool) -> Result<()> {
    if nagios {
        return ctx.out.line(&nagios_line(outcomes));
    }
    let mut rows = Rows::new(&COLUMNS);
    for o in outcomes {
        rows.push(vec![
            o.chosen.spec.name.into(),
            Value::Status(o.status.as_str().to_string(), o.status.tone()),
            o.finding.value.clone().into(),
            o.chosen.shown(o.chosen.warning),
            o.chosen.shown(o.chosen.critical),
            o.finding.message.clone().into(),
        ]);
    }
    ctx.out.rows(&rows)
}

/// The families of `-o prometheus`: each check's state, each measured figure in a gauge of its
/// unit (Prometheus's base units: seconds, bytes, ratios rather than percentages, so that one
/// family never mixes units), and the run's overall state, the exit code.
fn prometheus(outcomes: &[Outcome], worst: Status) -> Vec<Family> {
    let mut status = Family::new(
        "crm_health_check_status",
        "The state of a crm db health check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN \
         (a check skipped where it does not apply is 0).",
    );
    let mut seconds = Family::new(
        "crm_health_check_seconds",
        "The figure of a crm db health check measured in seconds (latency, ages, durations).",
    );
    let mut ratio = Family::new(
        "crm_health_check_ratio",
        "The figure of a crm db health check measured as a ratio (its percentage / 100).",
    );
    let mut bytes = Family::new(
        "crm_health_check_bytes",
        "The figure of a crm db health check measured in bytes.",
    );
    let mut count = Family::new(
        "crm_health_check_count",
        "The figure of a crm db health check that counts (indexes).",
    );
    for o in outcomes {
        let check = [("check", o.chosen.spec.name)];
        status.push(&check, f64::from(o.status.code()));
        let (Some(figure), Some(unit)) = (o.finding.figure, o.chosen.spec.unit) else {
            continue;
        };
        match unit {
            Unit::Seconds => seconds.push(&check, figure),
            Unit::Percent => ratio.push(&check, figure / 100.0),
            Unit::Bytes => bytes.push(&check, figure),
            Unit::Count => count.push(&check, figure),
        }
    }
    let mut overall = Family::new(
        "crm_health_status",
        "The worst state of the crm db health run, its exit code: 0 OK, 1 WARNING, \
         2 CRITICAL, 3 UNKNOWN.",
    );
    overall.push(&[], f64::from(worst.code()));
    vec![status, seconds, ratio, bytes, count, overall]
}

/// `CRM WARNING - idle-in-transaction: ...; 14 ok | connections=3%;90;95 ...`: a Nagios
/// plugin's one line, with perfdata (`label=value[unit];warn;crit`) for every measured figure.
fn nagios_line(outcomes: &[Outcome]) -> String {
    let worst = outcomes
        .iter()
        .fold(Status::Ok, |worst, o| worst.worst(o.status));
    let problems: Vec<String> = outcomes
        .iter()
        .filter(|o| o.status != Status::Ok)
        .map(|o| {
            format!(
                "{} {}: {}",
                o.chosen.spec.name,
                o.status.as_str(),
                o.finding.message.replace('|', "/")
            )
        })
        .collect();
    let ok = outcomes
        .iter()
        .filter(|o| o.status == Status::Ok && !o.finding.skipped)
        .count();
    let mut summary = match problems.is_empty() {
        true => format!("{ok} checks ok"),
        false => format!("{}; {ok} ok", problems.join("; ")),
    };
    let skipped: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.finding.skipped)
        .map(|o| o.chosen.spec.name)
        .collect();
    if !skipped.is_empty() {
        summary.push_str(&format!("; skipped: {}", skipped.join(", ")));
    }
    let perfdata: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            let figure = o.finding.figure?;
            let unit = o.chosen.spec.unit?;
            let (scale, uom) = match unit {
                Unit::Seconds => (1.0, "s"),
                Unit::Percent => (1.0, "%"),
                Unit::Bytes => (1.0, "B"),
                Unit::Count => (1.0, ""),
            };
            let limit = |l: Option<f64>| l.map(|l| trim_perf(l * scale)).unwrap_or_default();
            Some(format!(
                "{}={}{uom};{};{}",
                o.chosen.spec.name,
                trim_perf(figure * scale),
                limit(o.chosen.warning),
                limit(o.chosen.critical)
            ))
        })
        .collect();
    let mut line = format!("CRM {} - {summary}", worst.as_str());
    if !perfdata.is_empty() {
        line.push_str(" | ");
        line.push_str(&perfdata.join(" "));
    }
    line
}

fn trim_perf(n: f64) -> String {
    let text = format!("{n:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_written_in_their_check_s_unit() {
        assert_eq!(parse_figure(Unit::Seconds, "500ms"), Ok(0.5));
        assert_eq!(parse_figure(Unit::Seconds, "90"), Ok(90.0));
        assert_eq!(parse_figure(Unit::Seconds, "2d"), Ok(2.0 * DAY));
        assert_eq!(parse_figure(Unit::Percent, "80%"), Ok(80.0));
        assert_eq!(
            parse_figure(Unit::Bytes, "10GB"),
            Ok(10.0 * 1024.0 * 1024.0 * 1024.0)
        );
        assert!(parse_figure(Unit::Percent, "80s").is_err());
        assert!(parse_figure(Unit::Count, "-1").is_err());
        assert!(parse_figure(Unit::Seconds, "").is_err());
    }

    #[test]
    fn figures_are_shown_as_thresholds_are_written() {
        assert_eq!(format_figure(Unit::Seconds, 60.0), "60s");
        assert_eq!(format_figure(Unit::Seconds, DAY), "1d");
        assert_eq!(format_figure(Unit::Seconds, 0.02), "20ms");
        assert_eq!(format_figure(Unit::Percent, 99.5), "99.5%");
        assert_eq!(format_figure(Unit::Bytes, 7_500_000.0), "7.2 MiB");
        assert_eq!(
            parse_figure(Unit::Bytes, "7.2 MiB"),
            Ok(7.2 * 1024.0 * 1024.0),
            "what is shown can be written back"
        );
    }

    #[test]
    fn critical_beats_warning_beats_unknown_beats_ok() {
        use Status::*;
        assert_eq!(Ok.worst(Unknown), Unknown);
        assert_eq!(Unknown.worst(Warning), Warning);
        assert_eq!(Critical.worst(Unknown), Critical);
        assert_eq!(Warning.worst(Ok), Warning);
    }

    #[test]
    fn the_help_lists_every_check() {
        use clap::Args as _;
        let health = HealthArgs::augment_args(clap::Command::new("health"));
        let help = health
            .get_after_help()
            .map(|a| a.to_string())
            .expect("db health has an after_help");
        for spec in SPECS {
            assert!(help.contains(spec.name), "{} is not in the help", spec.name);
        }
    }

    #[test]
    fn a_low_cache_hit_ratio_is_bad() {
        let spec = SPECS
            .iter()
            .find(|s| s.name == "cache-hit")
            .expect("cache-hit");
        let chosen = Chosen {
            spec,
            warning: Some(99.0),
            critical: Some(90.0),
            asked: false,
        };
        assert_eq!(chosen.grade(99.5), Status::Ok);
        assert_eq!(chosen.grade(95.0), Status::Warning);
        assert_eq!(chosen.grade(80.0), Status::Critical);
    }
}
