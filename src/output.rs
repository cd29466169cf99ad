//! The one place that renders rows as a table, CSV or JSON, and prints notices, problems and
//! progress.
//!
//! Commands return [`Rows`] (or a single record, alone or with the tables it owns); only this
//! module writes them, and only it decides what each format shows. CSV and JSON
//! are byte-stable for scripts: the database's own column names, NULL as an empty CSV field or
//! JSON `null`, money as plain decimals (strings in JSON, never floats), timestamps as RFC 3339
//! in UTC. Tables, for a person, are drawn by [`table`]; metrics for Prometheus by
//! [`prometheus`].

pub mod prometheus;
pub mod table;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};
use rust_decimal::Decimal;
use std::io::{self, IsTerminal, Write};
use std::time::Duration;
use table::{Cell, TableWriter};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How rows are rendered: `-o table|csv|json`, or `-o prometheus` for the two commands whose
/// results are metrics (`db health`, `db backup list`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table that fits the terminal, leaving out the columns a reader rarely needs
    Table,
    /// A table with every column
    Wide,
    Csv,
    Json,
    /// Prometheus's text exposition format (db health and db backup list only)
    Prometheus,
}

impl Format {
    /// A table for a person, narrow or wide.
    pub fn is_table(self) -> bool {
        matches!(self, Format::Table | Format::Wide)
    }
}

/// One value of one cell, typed so that each format can render it faithfully.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Money(Decimal),
    Text(String),
    Time(OffsetDateTime),
    Json(serde_json::Value),
    /// A status word (`db health`'s OK, WARNING, ...): plain text, coloured in a table on a
    /// terminal by its tone.
    Status(String, Tone),
    /// A list of words (a delivery's e-mail recipients): a JSON array in JSON, separated by
    /// spaces in a table and in CSV, where a cell holds one text.
    Words(Vec<String>),
    /// A size in bytes: the number in CSV and JSON, where scripts read it; [`byte_size`]'s
    /// `34.2 MiB` in a table.
    Bytes(u64),
}

/// How a [`Value::Status`] is coloured on a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Warning,
    Bad,
    Unknown,
}

impl Tone {
    /// The colour's number in the terminal's 256-colour palette (the bright ones of the 16).
    fn ansi(self) -> u8 {
        match self {
            Tone::Good => 10,
            Tone::Warning => 11,
            Tone::Bad => 9,
            Tone::Unknown => 13,
        }
    }
}

impl Value {
    /// The text of the value as CSV and tables show it (NULL is empty).
    fn text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Money(d) => d.to_string(),
            Value::Text(s) => s.clone(),
            Value::Time(t) => rfc3339_utc(*t),
            Value::Json(j) => j.to_string(),
            Value::Status(s, _) => s.clone(),
            Value::Words(words) => words.join(" "),
            Value::Bytes(n) => n.to_string(),
        }
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Money(d) => d.to_string().into(),
            Value::Text(s) => s.clone().into(),
            Value::Time(t) => rfc3339_utc(*t).into(),
            Value::Json(j) => j.clone(),
            Value::Status(s, _) => s.clone().into(),
            Value::Words(words) => words.clone().into(),
            Value::Bytes(n) => (*n).into(),
        }
    }

    fn is_numeric(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Money(_) | Value::Bytes(_))
    }
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        v.map_or(Value::Null, Value::Text)
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}

impl From<Option<OffsetDateTime>> for Value {
    fn from(v: Option<OffsetDateTime>) -> Self {
        v.map_or(Value::Null, Value::Time)
    }
}

/// RFC 3339 in UTC to the microsecond (PostgreSQL's precision), trailing zeros dropped as
/// PostgreSQL drops them: `2025-07-01T09:30:00.25Z`. SQL that renders timestamps itself (COPY)
/// uses [`sql_rfc3339`] to print the same text.
pub fn rfc3339_utc(t: OffsetDateTime) -> String {
    let micros = t.nanosecond() / 1000 * 1000;
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(micros)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// Appends [`rfc3339_utc`]'s text to `out` without allocating: exports write two timestamps a
/// row, and `time`'s general formatter costs a million-row export a good part of a second.
pub fn push_rfc3339_utc(out: &mut Vec<u8>, t: OffsetDateTime) {
    let t = t.to_offset(time::UtcOffset::UTC);
    let year = t.year();
    if !(0..=9999).contains(&year) {
        // Beyond RFC 3339's four digits: the general formatter's fallback.
        out.extend_from_slice(rfc3339_utc(t).as_bytes());
        return;
    }
    let two = |out: &mut Vec<u8>, n: u8| out.extend_from_slice(&[b'0' + n / 10, b'0' + n % 10]);
    // Checked above: 0..=9999 fits.
    let year = year.unsigned_abs();
    two(out, (year / 100) as u8);
    two(out, (year % 100) as u8);
    out.push(b'-');
    two(out, u8::from(t.month()));
    out.push(b'-');
    two(out, t.day());
    out.push(b'T');
    two(out, t.hour());
    out.push(b':');
    two(out, t.minute());
    out.push(b':');
    two(out, t.second());
    let mut micros = t.nanosecond() / 1000;
    if micros > 0 {
        let mut digits = 6;
        while micros.is_multiple_of(10) {
            micros /= 10;
            digits -= 1;
        }
        out.push(b'.');
        let start = out.len();
        out.resize(start + digits, b'0');
        for slot in out[start..].iter_mut().rev() {
            *slot = b'0' + (micros % 10) as u8;
            micros /= 10;
        }
    }
    out.push(b'Z');
}

/// A result set: column names (the database's own) and rows of values.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// A line shown under a table only, e.g. `50 of 1,000 customers`.
    pub footer: Option<String>,
}

impl Rows {
    pub fn new(columns: &[&str]) -> Self {
        Rows {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
            footer: None,
        }
    }

    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
    }

    /// The rows as one JSON array of objects, keys in column order: how a record carries the
    /// table it owns in JSON and (as the text of one field) in CSV.
    fn json(&self) -> serde_json::Value {
        self.rows
            .iter()
            .map(|row| {
                let object: serde_json::Map<String, serde_json::Value> = self
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(column, value)| (column.clone(), value.json()))
                    .collect();
                serde_json::Value::Object(object)
            })
            .collect()
    }
}

/// Which commands `-o prometheus` serves; the others refuse it before doing anything.
pub const PROMETHEUS_ONLY: &str = "-o prometheus is the format of `crm db health` and \
     `crm db backup list` only: expected table, wide, csv or json for this command";

/// Rows that are not metrics, asked for as Prometheus's format: the command line refuses that
/// before any command runs (see `crm::run`), so this is a last guard, never a half output.
fn not_metrics() -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, PROMETHEUS_ONLY)
}

/// Renders rows in `format` to `w`.
pub fn write_rows(w: &mut dyn Write, format: Format, rows: &Rows, style: Style) -> io::Result<()> {
    let columns: Vec<&str> = rows.columns.iter().map(String::as_str).collect();
    let mut writer = RowWriter::new(w, format, style, &columns)?;
    for row in &rows.rows {
        writer.row(row.clone())?;
    }
    writer.finish(rows.footer.clone())?;
    Ok(())
}

/// Renders one record (`show`): a two-column field/value table, CSV with one row, or a single
/// JSON object.
pub fn write_record(
    w: &mut dyn Write,
    format: Format,
    columns: &[&str],
    values: &[Value],
    style: Style,
) -> io::Result<()> {
    match format {
        Format::Table | Format::Wide => {
            let headers = ["field".to_string(), "value".to_string()];
            let mut table = TableWriter::new(&headers, style.color, style.width);
            for (c, v) in columns.iter().zip(values) {
                table.row(w, vec![Cell::text(c), Cell::of(v, c).left()])?;
            }
            table.finish(w, None)
        }
        Format::Csv => {
            let mut writer = RowWriter::new(w, format, style, columns)?;
            writer.row(values.to_vec())?;
            writer.finish(None).map(drop)
        }
        Format::Prometheus => Err(not_metrics()),
        Format::Json => {
            write_json_object(
                w,
                &columns.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
                values,
            )?;
            writeln!(w)
        }
    }
}

/// Renders a record with the tables it owns (an order's items, a customer's last orders), each
/// under its name. In a table, the record as fields, then each owned table that has rows as a
/// table of its own (footer included); in CSV and JSON, one record whose named fields hold the
/// owned rows as JSON arrays, so that CSV stays one header and one row.
pub fn write_record_with(
    w: &mut dyn Write,
    format: Format,
    columns: &[&str],
    values: &[Value],
    owned: &[(&str, &Rows)],
    style: Style,
) -> io::Result<()> {
    if format.is_table() {
        write_record(w, format, columns, values, style)?;
        for (_, rows) in owned {
            if !rows.rows.is_empty() {
                write_rows(w, format, rows, style)?;
            }
        }
        return Ok(());
    }
    let mut columns = columns.to_vec();
    let mut values = values.to_vec();
    for (name, rows) in owned {
        columns.push(name);
        values.push(Value::Json(rows.json()));
    }
    write_record(w, format, &columns, &values, style)
}

fn write_json_object<W: Write + ?Sized>(
    w: &mut W,
    columns: &[String],
    row: &[Value],
) -> io::Result<()> {
    w.write_all(b"{")?;
    for (i, (column, value)) in columns.iter().zip(row).enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        serde_json::to_writer(&mut *w, column)?;
        w.write_all(b":")?;
        serde_json::to_writer(&mut *w, &value.json())?;
    }
    w.write_all(b"}")
}

/// Rows written one at a time as they arrive, in constant memory: CSV and JSON row by row, a
/// table once its first block of rows has set the columns' widths (see [`table`]).
pub struct RowWriter<W: Write> {
    sink: Sink<W>,
    /// The columns shown, by their index in the rows given; `None` for all, in their order.
    shown: Option<Vec<usize>>,
    columns: Vec<String>,
    written: u64,
    /// What a table says instead of an empty table.
    empty: Option<String>,
}

enum Sink<W: Write> {
    Json(W),
    Csv(Box<csv::Writer<W>>),
    Table(W, Box<TableWriter>),
}

impl<W: Write> RowWriter<W> {
    /// A writer of rows of `columns`, showing all of them.
    pub fn new(out: W, format: Format, style: Style, columns: &[&str]) -> io::Result<Self> {
        let all: Vec<usize> = (0..columns.len()).collect();
        Self::selecting(out, format, style, columns, &all)
    }

    /// A writer of rows of `columns`, showing those of `shown` (indices), in that order.
    pub fn selecting(
        out: W,
        format: Format,
        style: Style,
        columns: &[&str],
        shown: &[usize],
    ) -> io::Result<Self> {
        // Rows pass through as they are when every column shows, in its order.
        let all = shown.iter().copied().eq(0..columns.len());
        let columns: Vec<String> = shown.iter().map(|&i| columns[i].to_string()).collect();
        let sink = match format {
            Format::Csv => {
                let mut csv = csv::Writer::from_writer(out);
                csv.write_record(&columns)?;
                Sink::Csv(Box::new(csv))
            }
            Format::Json => Sink::Json(out),
            Format::Prometheus => return Err(not_metrics()),
            Format::Table | Format::Wide => Sink::Table(
                out,
                Box::new(TableWriter::new(&columns, style.color, style.width)),
            ),
        };
        Ok(RowWriter {
            sink,
            shown: (!all).then(|| shown.to_vec()),
            columns,
            written: 0,
            empty: None,
        })
    }

    /// What a table says instead of an empty one (`no customers match`); CSV and JSON still
    /// print their header or `[]`.
    pub fn when_empty(&mut self, sentence: impl Into<String>) {
        self.empty = Some(sentence.into());
    }

    pub fn row(&mut self, row: Vec<Value>) -> io::Result<()> {
        let row: Vec<Value> = match &self.shown {
            None => row,
            Some(shown) => {
                let mut row: Vec<Option<Value>> = row.into_iter().map(Some).collect();
                shown
                    .iter()
                    .map(|&i| row.get_mut(i).and_then(Option::take).unwrap_or(Value::Null))
                    .collect()
            }
        };
        match &mut self.sink {
            Sink::Csv(csv) => csv.write_record(row.iter().map(Value::text))?,
            Sink::Json(out) => {
                out.write_all(if self.written == 0 { b"[\n" } else { b",\n" })?;
                write_json_object(out, &self.columns, &row)?;
            }
            Sink::Table(out, table) => {
                let cells = row
                    .iter()
                    .zip(&self.columns)
                    .map(|(value, column)| Cell::of(value, column))
                    .collect();
                table.row(out, cells)?;
            }
        }
        self.written += 1;
        Ok(())
    }

    /// How many rows were written.
    pub fn count(&self) -> u64 {
        self.written
    }

    /// Ends the output; `footer` shows under a table only.
    pub fn finish(self, footer: Option<String>) -> io::Result<W> {
        let mut out = match self.sink {
            Sink::Csv(csv) => csv.into_inner().map_err(|e| e.into_error())?,
            Sink::Json(mut out) => {
                out.write_all(if self.written == 0 { b"[]\n" } else { b"\n]\n" })?;
                out
            }
            Sink::Table(mut out, table) => {
                match self.empty {
                    Some(sentence) if self.written == 0 => writeln!(out, "{sentence}")?,
                    _ => table.finish(&mut out, footer.as_deref())?,
                }
                out
            }
        };
        out.flush()?;
        Ok(out)
    }
}

/// How a table is drawn: in colour or not, and to fit how many columns, if any.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub color: bool,
    pub width: Option<usize>,
}

/// Columns a reader rarely needs at a terminal: a table leaves them out unless `-o wide` or
/// `--columns` asks for them. CSV and JSON keep every column.
const WIDE_COLUMNS: &[&str] = &["description", "image", "address", "updatedAt"];

/// The width tables fit: `COLUMNS` when it is a number (as `ls` and other tools read it), else
/// the terminal's when stdout is one; none otherwise, so that a table written to a file or a
/// pipe keeps every character.
fn table_width(stdout_tty: bool) -> Option<usize> {
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok());
    match columns {
        Some(n) if n > 0 => Some(n),
        _ if stdout_tty => {
            terminal_size::terminal_size_of(io::stdout()).map(|(w, _)| usize::from(w.0))
        }
        _ => None,
    }
}

/// How this run prints: the format of data on stdout, and whether notices go to stderr.
#[derive(Debug, Clone)]
pub struct Output {
    pub format: Format,
    pub quiet: bool,
    /// Colour and bold on a terminal, unless NO_COLOR is set.
    pub color: bool,
    /// The width a table fits: `COLUMNS` if set, else the terminal's; none when piped.
    pub width: Option<usize>,
    /// `--columns`: the columns to show, in this order, instead of the default ones.
    pub columns: Option<Vec<String>>,
}

impl Output {
    /// `--format` if given, else a table on a terminal and CSV when piped.
    pub fn new(format: Option<Format>, quiet: bool) -> Self {
        let stdout_tty = io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            format: format.unwrap_or(if stdout_tty {
                Format::Table
            } else {
                Format::Csv
            }),
            quiet,
            color: stdout_tty && !no_color,
            width: table_width(stdout_tty),
            columns: None,
        }
    }

    /// The same, showing only `columns` (`--columns`), in that order.
    pub fn with_columns(mut self, columns: Option<Vec<String>>) -> Self {
        self.columns = columns;
        self
    }

    /// The indices of `columns` to show: those `--columns` names, in its order; else, in a
    /// table (not `-o wide`), all but the ones a reader rarely needs; else all. A name that is
    /// not one of `columns` is bad usage.
    fn shown(&self, columns: &[&str]) -> Result<Vec<usize>> {
        match &self.columns {
            Some(asked) => asked
                .iter()
                .map(|name| {
                    columns.iter().position(|c| c == name).ok_or_else(|| {
                        crate::error::usage(format!(
                            "--columns {name}: no such column here (expected some of {})",
                            columns.join(", ")
                        ))
                    })
                })
                .collect(),
            None if self.format == Format::Table => Ok((0..columns.len())
                .filter(|&i| !WIDE_COLUMNS.contains(&columns[i]))
                .collect()),
            None => Ok((0..columns.len()).collect()),
        }
    }

    fn style(&self) -> Style {
        Style {
            color: self.color,
            width: self.width,
        }
    }

    /// Writes rows to stdout.
    pub fn rows(&self, rows: &Rows) -> Result<()> {
        let columns: Vec<&str> = rows.columns.iter().map(String::as_str).collect();
        let mut out = self.row_writer(&columns)?;
        for row in &rows.rows {
            out.row(row.clone())
                .context("cannot write to standard output")?;
        }
        out.finish(rows.footer.clone())
            .map(drop)
            .context("cannot write to standard output")
    }

    /// Writes one record (`show`) to stdout.
    pub fn record(&self, columns: &[&str], values: &[Value]) -> Result<()> {
        let mut out = io::stdout().lock();
        write_record(&mut out, self.format, columns, values, self.style())
            .and_then(|()| out.flush())
            .context("cannot write to standard output")
    }

    /// Writes one record with the tables it owns to stdout (see [`write_record_with`]).
    pub fn record_with(
        &self,
        columns: &[&str],
        values: &[Value],
        owned: &[(&str, &Rows)],
    ) -> Result<()> {
        let mut out = io::stdout().lock();
        write_record_with(&mut out, self.format, columns, values, owned, self.style())
            .and_then(|()| out.flush())
            .context("cannot write to standard output")
    }

    /// Whether a footer (`50 of 1,000 customers`) is shown: in a table only, so that a command
    /// can spare the query that counts for it.
    pub fn shows_footer(&self) -> bool {
        self.format.is_table()
    }

    /// A writer of rows to stdout, one at a time.
    pub fn row_writer(&self, columns: &[&str]) -> Result<RowWriter<io::StdoutLock<'static>>> {
        let shown = self.shown(columns)?;
        RowWriter::selecting(
            io::stdout().lock(),
            self.format,
            self.style(),
            columns,
            &shown,
        )
        .context("cannot write to standard output")
    }

    /// Metrics in Prometheus's text format: to stdout, or with `file` into that file, replaced
    /// atomically for node_exporter's textfile collector (see [`prometheus::write_file`]).
    pub fn metrics(
        &self,
        families: &[prometheus::Family],
        file: Option<&std::path::Path>,
    ) -> Result<()> {
        let mut text = Vec::new();
        prometheus::write(&mut text, families).context("cannot render the metrics")?;
        match file {
            Some(path) => prometheus::write_file(path, &text),
            None => {
                let mut out = io::stdout().lock();
                out.write_all(&text)
                    .and_then(|()| out.flush())
                    .context("cannot write to standard output")
            }
        }
    }

    /// One line of text to stdout, for formats of a command's own (`db health --nagios`) and
    /// single values a script reads (`db local url`).
    pub fn line(&self, text: &str) -> Result<()> {
        let mut out = io::stdout().lock();
        writeln!(out, "{text}")
            .and_then(|()| out.flush())
            .context("cannot write to standard output")
    }

    /// A notice on stderr (what happened, what crm decided), silenced by `--quiet`.
    pub fn notice(&self, message: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", message.as_ref());
        }
    }

    /// A warning on stderr: printed even with `--quiet`, since it asks for the user's attention.
    pub fn warn(&self, message: impl AsRef<str>) {
        eprintln!("warning: {}", message.as_ref());
    }

    /// One problem of the user's input on stderr (`line 4: email: not an e-mail address`), as
    /// it is: printed even with `--quiet`, since it is why the command fails.
    pub fn problem(&self, line: impl AsRef<str>) {
        eprintln!("{}", line.as_ref());
    }

    /// A progress indicator on stderr when it is a terminal (and not `--quiet`); hidden
    /// otherwise, so that logs and tests see nothing of it. With a length, a bar with its
    /// percentage and time left (of a file's bytes, `db maintain`'s relations' bytes, or
    /// `db restore`'s archive items), named by its
    /// prefix; without, a spinner with the prefix, the message and the time spent.
    pub fn progress(&self, len: Option<u64>) -> ProgressBar {
        let template = match len {
            // The message last, cut to the terminal's width (`db maintain`'s statements are
            // long): a line that wraps is drawn again below itself at each tick.
            Some(_) => "{spinner} {prefix} [{bar:20}] {percent:>3}%, {eta} left: {wide_msg}",
            None => "{spinner} {prefix}: {msg} ({elapsed})",
        };
        self.progress_bar(len, template)
    }

    /// A bar of `len` steps (`db seed --scale`'s stages), named by its prefix: `3/9` rather
    /// than a percentage, and the time spent rather than a guess of the time left, since the
    /// steps are few and far from equal.
    pub fn steps(&self, len: u64) -> ProgressBar {
        self.progress_bar(
            Some(len),
            "{spinner} {prefix} [{bar:20}] {pos}/{len} {msg} ({elapsed})",
        )
    }

    /// The progress of rows written as they come (`export`), of about `estimate` rows (the
    /// planner's estimate, which the bar says is one: `12,288 of about 300,000`), or a spinner
    /// counting them without one. When the rows go to stdout (`data_to_stdout`), there is none
    /// unless stdout is a file: on a terminal, or through a pipe whose reader may print to
    /// the same terminal (`export - | head`), a bar redrawn on stderr would land among the rows.
    pub fn row_progress(&self, estimate: Option<u64>, data_to_stdout: bool) -> ProgressBar {
        if !self.shows_row_progress(data_to_stdout) {
            return ProgressBar::hidden();
        }
        match estimate {
            Some(len) => self.progress_bar(
                Some(len),
                // Short enough for 80 columns.
                "{spinner} {prefix} [{bar:16}] {human_pos} of about {human_len}, {eta} left",
            ),
            None => self.progress(None),
        }
    }

    /// Whether [`Output::row_progress`] would show anything: a caller spares the work of an
    /// estimate that nobody sees.
    pub fn shows_row_progress(&self, data_to_stdout: bool) -> bool {
        self.shows_progress() && !(data_to_stdout && stdout_may_reach_a_terminal())
    }

    /// Whether progress is shown at all: on a terminal (stderr), and not `--quiet`.
    pub fn shows_progress(&self) -> bool {
        !self.quiet && io::stderr().is_terminal()
    }

    fn progress_bar(&self, len: Option<u64>, template: &str) -> ProgressBar {
        if !self.shows_progress() {
            return ProgressBar::hidden();
        }
        // Cleared however it ends: a command that fails (or meets a closed pipe) leaves no
        // half-drawn bar on the terminal.
        let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr())
            .with_finish(ProgressFinish::AndClear);
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }
}

/// Whether what crm writes to stdout may reach a terminal: stdout is one, or a pipe or a
/// socket (whose reader, `head` or `less`, may show it on one). A regular file or a device
/// such as /dev/null does not.
fn stdout_may_reach_a_terminal() -> bool {
    let stdout = io::stdout();
    if stdout.is_terminal() {
        return true;
    }
    match rustix::fs::fstat(&stdout) {
        Ok(stat) => matches!(
            rustix::fs::FileType::from_raw_mode(stat.st_mode),
            rustix::fs::FileType::Fifo | rustix::fs::FileType::Socket
        ),
        // Unknown: assume the worst, and draw nothing among the data.
        Err(_) => true,
    }
}

// Text helpers: numbers and nouns as messages and footers print them, and a user's text made
// safe for one line of a message.

/// 1234567 -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    table::separated(&n.to_string())
}

/// 35836158 -> `34.2 MiB`: a size for a person, in IEC units (powers of 1024, as PostgreSQL's
/// `pg_size_pretty` and `ls -lh` count) with one decimal; below 1 KiB, whole bytes (`999 B`).
/// Every size crm shows a person goes through here; CSV and JSON carry the bytes.
pub fn byte_size(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    // 1023.96 KiB would print as `1024.0 KiB`: the next unit's `1.0` reads better.
    while value >= 1023.95 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `1 order`, `3 orders`.
pub fn counted(n: i64, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// A user's text for one line of a message: control characters escaped, at most `max`
/// characters.
pub fn shown(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().expect("a decimal literal")
    }

    fn sample() -> Rows {
        let mut rows = Rows::new(&["id", "firstName", "totalPurchases", "createdAt", "notes"]);
        let t = OffsetDateTime::from_unix_timestamp(1_751_362_200).expect("a valid timestamp");
        rows.push(vec![
            Value::Int(1),
            "Ada".into(),
            Value::Money(dec("1234.50")),
            Value::Time(t),
            Value::Null,
        ]);
        rows.push(vec![
            Value::Int(12),
            "O'Brien, \"Bo\"".into(),
            Value::Money(dec("0.00")),
            Value::Time(t.to_offset(time::UtcOffset::from_hms(2, 0, 0).expect("offset"))),
            "line1\nline2".into(),
        ]);
        rows
    }

    fn render(format: Format) -> String {
        let mut buf = Vec::new();
        write_rows(&mut buf, format, &sample(), Style::default()).expect("render");
        String::from_utf8(buf).expect("utf-8")
    }

    proptest::proptest! {
        #[test]
        fn the_fast_timestamp_text_is_rfc3339_utc(
            secs in -62_135_596_800_i64..253_402_300_799,
            micros in 0_u32..1_000_000,
            offset in -86_399_i32..86_399,
        ) {
            let t = OffsetDateTime::from_unix_timestamp(secs)
                .expect("in range")
                .replace_nanosecond(micros * 1000)
                .expect("in range")
                .to_offset(time::UtcOffset::from_whole_seconds(offset).expect("an offset"));
            let mut fast = Vec::new();
            push_rfc3339_utc(&mut fast, t);
            proptest::prop_assert_eq!(String::from_utf8(fast).expect("ascii"), rfc3339_utc(t));
        }
    }

    #[test]
    fn the_fast_timestamp_text_drops_trailing_zeros() {
        let t = OffsetDateTime::from_unix_timestamp(1_751_362_200).expect("a valid timestamp");
        let text = |t| {
            let mut out = Vec::new();
            push_rfc3339_utc(&mut out, t);
            String::from_utf8(out).expect("ascii")
        };
        assert_eq!(text(t), "2025-07-01T09:30:00Z");
        let t = t.replace_nanosecond(250_000_000).expect("in range");
        assert_eq!(text(t), "2025-07-01T09:30:00.25Z");
        let t = t.replace_nanosecond(1_000).expect("in range");
        assert_eq!(text(t), "2025-07-01T09:30:00.000001Z");
    }

    #[test]
    fn csv_is_rfc4180_with_null_as_empty_and_utc_timestamps() {
        assert_eq!(
            render(Format::Csv),
            "id,firstName,totalPurchases,createdAt,notes\n\
             1,Ada,1234.50,2025-07-01T09:30:00Z,\n\
             12,\"O'Brien, \"\"Bo\"\"\",0.00,2025-07-01T09:30:00Z,\"line1\nline2\"\n"
        );
    }

    #[test]
    fn json_keeps_column_order_money_as_strings_null_as_null() {
        assert_eq!(
            render(Format::Json),
            "[\n\
             {\"id\":1,\"firstName\":\"Ada\",\"totalPurchases\":\"1234.50\",\"createdAt\":\"2025-07-01T09:30:00Z\",\"notes\":null},\n\
             {\"id\":12,\"firstName\":\"O'Brien, \\\"Bo\\\"\",\"totalPurchases\":\"0.00\",\"createdAt\":\"2025-07-01T09:30:00Z\",\"notes\":\"line1\\nline2\"}\n\
             ]\n"
        );
        let parsed: serde_json::Value =
            serde_json::from_str(&render(Format::Json)).expect("valid JSON");
        assert_eq!(parsed[1]["totalPurchases"], "0.00");
    }

    #[test]
    fn a_record_is_one_object_one_csv_row_or_a_field_table() {
        let rows = sample();
        let columns: Vec<&str> = rows.columns.iter().map(String::as_str).collect();
        let render = |format| {
            let mut buf = Vec::new();
            write_record(&mut buf, format, &columns, &rows.rows[0], Style::default())
                .expect("render");
            String::from_utf8(buf).expect("utf-8")
        };
        assert_eq!(
            render(Format::Json),
            "{\"id\":1,\"firstName\":\"Ada\",\"totalPurchases\":\"1234.50\",\"createdAt\":\"2025-07-01T09:30:00Z\",\"notes\":null}\n"
        );
        assert_eq!(
            render(Format::Csv),
            "id,firstName,totalPurchases,createdAt,notes\n1,Ada,1234.50,2025-07-01T09:30:00Z,\n"
        );
        assert!(render(Format::Table).contains("│ totalPurchases ┆ 1,234.50             │"));
    }

    #[test]
    fn a_record_carries_its_owned_rows_as_a_json_array_or_a_table_after_it() {
        let mut items = Rows::new(&["id", "price", "name"]);
        items.push(vec![Value::Int(5), Value::Money(dec("0.10")), Value::Null]);
        items.footer = Some("1 item".into());
        let empty = Rows::new(&["userId"]);
        let owned: &[(&str, &Rows)] = &[("items", &items), ("readers", &empty)];
        let render = |format| {
            let mut buf = Vec::new();
            write_record_with(
                &mut buf,
                format,
                &["id"],
                &[Value::Int(1)],
                owned,
                Style::default(),
            )
            .expect("render");
            String::from_utf8(buf).expect("utf-8")
        };
        assert_eq!(
            render(Format::Json),
            "{\"id\":1,\"items\":[{\"id\":5,\"price\":\"0.10\",\"name\":null}],\"readers\":[]}\n"
        );
        assert_eq!(
            render(Format::Csv),
            "id,items,readers\n1,\"[{\"\"id\"\":5,\"\"price\"\":\"\"0.10\"\",\"\"name\"\":null}]\",[]\n"
        );
        let table = render(Format::Table);
        assert!(table.contains("│ id    ┆ 1     │"), "{table}");
        assert!(table.contains("│ id ┆ price ┆ name │"), "{table}");
        assert!(table.ends_with("┘\n1 item\n"), "{table}");
        assert!(
            !table.contains("userId"),
            "an empty owned table is left out: {table}"
        );
    }

    #[test]
    fn words_are_a_json_array_and_spaced_text_elsewhere() {
        let words = Value::Words(vec!["a@example.com".into(), "b@example.com".into()]);
        assert_eq!(words.text(), "a@example.com b@example.com");
        assert_eq!(
            words.json(),
            serde_json::json!(["a@example.com", "b@example.com"])
        );
        assert_eq!(Value::Words(Vec::new()).json(), serde_json::json!([]));
    }

    #[test]
    fn csv_streams_many_rows_in_order() {
        let mut buf = Vec::new();
        let mut w =
            RowWriter::new(&mut buf, Format::Csv, Style::default(), &["n"]).expect("writer");
        for i in 0..1000 {
            w.row(vec![Value::Int(i)]).expect("row");
        }
        w.finish(None).expect("finish");
        let text = String::from_utf8(buf).expect("utf-8");
        assert_eq!(text.lines().count(), 1001);
        assert!(text.ends_with("998\n999\n"));
    }

    #[test]
    fn a_status_is_coloured_in_a_table_on_a_terminal_only() {
        let mut rows = Rows::new(&["check", "status"]);
        rows.push(vec![
            "sequences".into(),
            Value::Status("CRITICAL".into(), Tone::Bad),
        ]);
        let render = |format, color| {
            let mut buf = Vec::new();
            let style = Style { color, width: None };
            write_rows(&mut buf, format, &rows, style).expect("render");
            String::from_utf8(buf).expect("utf-8")
        };
        let coloured = render(Format::Table, true);
        assert!(coloured.contains("\u{1b}[38;5;9m"), "{coloured:?}");
        assert!(!render(Format::Table, false).contains('\u{1b}'));
        assert_eq!(
            render(Format::Csv, true),
            "check,status\nsequences,CRITICAL\n"
        );
        assert_eq!(
            render(Format::Json, true),
            "[\n{\"check\":\"sequences\",\"status\":\"CRITICAL\"}\n]\n"
        );
    }

    #[test]
    fn empty_json_is_an_empty_array() {
        let mut buf = Vec::new();
        write_rows(
            &mut buf,
            Format::Json,
            &Rows::new(&["id"]),
            Style::default(),
        )
        .expect("render");
        assert_eq!(String::from_utf8(buf).expect("utf-8"), "[]\n");
    }

    #[test]
    fn table_right_aligns_numbers_and_shows_the_footer() {
        let mut rows = sample();
        rows.footer = Some("2 of 2 customers".into());
        let mut buf = Vec::new();
        write_rows(&mut buf, Format::Table, &rows, Style::default()).expect("render");
        assert_eq!(
            String::from_utf8(buf).expect("utf-8"),
            "\
┌────┬───────────────┬────────────────┬──────────────────────┬───────┐
│ id ┆ firstName     ┆ totalPurchases ┆ createdAt            ┆ notes │
╞════╪═══════════════╪════════════════╪══════════════════════╪═══════╡
│  1 ┆ Ada           ┆       1,234.50 ┆ 2025-07-01T09:30:00Z ┆       │
│ 12 ┆ O'Brien, \"Bo\" ┆           0.00 ┆ 2025-07-01T09:30:00Z ┆ line1 │
│    ┆               ┆                ┆                      ┆ line2 │
└────┴───────────────┴────────────────┴──────────────────────┴───────┘
2 of 2 customers
"
        );
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn sizes_are_iec_with_one_decimal() {
        assert_eq!(byte_size(0), "0 B");
        assert_eq!(byte_size(1023), "1023 B");
        assert_eq!(byte_size(1024), "1.0 KiB");
        assert_eq!(byte_size(35_836_158), "34.2 MiB");
        assert_eq!(byte_size(1_048_575), "1.0 MiB");
        assert_eq!(byte_size(10 * 1024 * 1024 * 1024), "10.0 GiB");
        assert_eq!(byte_size(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn bytes_are_the_number_in_csv_and_json_and_a_size_in_a_table() {
        let mut rows = Rows::new(&["file", "size"]);
        rows.push(vec!["a.dump".into(), Value::Bytes(35_836_158)]);
        let render = |format| {
            let mut buf = Vec::new();
            write_rows(&mut buf, format, &rows, Style::default()).expect("render");
            String::from_utf8(buf).expect("utf-8")
        };
        assert_eq!(render(Format::Csv), "file,size\na.dump,35836158\n");
        assert_eq!(
            render(Format::Json),
            "[\n{\"file\":\"a.dump\",\"size\":35836158}\n]\n"
        );
        let table = render(Format::Table);
        assert!(table.contains("│ a.dump ┆ 34.2 MiB │"), "{table}");
    }

    #[test]
    fn rows_are_not_metrics() {
        let mut buf = Vec::new();
        let e = write_rows(&mut buf, Format::Prometheus, &sample(), Style::default())
            .expect_err("rows are refused as Prometheus's format");
        assert_eq!(e.to_string(), PROMETHEUS_ONLY);
        assert!(buf.is_empty());
    }

    #[test]
    fn counted_nouns() {
        assert_eq!(counted(0, "order", "orders"), "0 orders");
        assert_eq!(counted(1, "order", "orders"), "1 order");
        assert_eq!(counted(6, "order item", "order items"), "6 order items");
    }

    #[test]
    fn a_writer_shows_the_columns_chosen_in_their_order_a_prefix_too() {
        let render = |shown: &[usize]| {
            let mut buf = Vec::new();
            let columns = ["id", "name", "email"];
            let mut w =
                RowWriter::selecting(&mut buf, Format::Csv, Style::default(), &columns, shown)
                    .expect("writer");
            w.row(vec![Value::Int(1), "Ada".into(), "ada@example.com".into()])
                .expect("row");
            w.finish(None).expect("finish");
            String::from_utf8(buf).expect("utf-8")
        };
        assert_eq!(render(&[0, 1]), "id,name\n1,Ada\n");
        assert_eq!(render(&[2, 0]), "email,id\nada@example.com,1\n");
        assert_eq!(render(&[0, 1, 2]), "id,name,email\n1,Ada,ada@example.com\n");
    }
}
