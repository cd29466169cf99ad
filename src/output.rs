//! The one place that renders rows as a table, CSV or JSON, and prints notices.
//!
//! Commands return [`Rows`] (or a single [`Record`]); only this module writes them. CSV and JSON
//! are byte-stable for scripts: the database's own column names, NULL as an empty CSV field or
//! JSON `null`, money as plain decimals (strings in JSON, never floats), timestamps as RFC 3339
//! in UTC.

use anyhow::{Context, Result};
use comfy_table::{CellAlignment, ContentArrangement, Table, presets};
use rust_decimal::Decimal;
use std::io::{self, IsTerminal, Write};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How rows are rendered: `-o table|csv|json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
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
    fn color(self) -> comfy_table::Color {
        match self {
            Tone::Good => comfy_table::Color::Green,
            Tone::Warning => comfy_table::Color::Yellow,
            Tone::Bad => comfy_table::Color::Red,
            Tone::Unknown => comfy_table::Color::Magenta,
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
        }
    }

    fn is_numeric(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Money(_))
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
}

/// Renders rows in `format` to `w`.
pub fn write_rows(w: &mut dyn Write, format: Format, rows: &Rows, color: bool) -> io::Result<()> {
    let columns: Vec<&str> = rows.columns.iter().map(String::as_str).collect();
    let mut writer = RowWriter::new(w, format, color, &columns)?;
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
    color: bool,
) -> io::Result<()> {
    match format {
        Format::Table => {
            let mut rows = Rows::new(&["field", "value"]);
            for (c, v) in columns.iter().zip(values) {
                rows.push(vec![Value::Text(c.to_string()), Value::Text(v.text())]);
            }
            write_table(w, &rows, color)
        }
        Format::Csv => {
            let mut writer = RowWriter::new(w, format, color, columns)?;
            writer.row(values.to_vec())?;
            writer.finish(None).map(drop)
        }
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

fn write_table<W: Write + ?Sized>(w: &mut W, rows: &Rows, color: bool) -> io::Result<()> {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(rows.columns.iter().map(|c| {
            let cell = comfy_table::Cell::new(c);
            if color {
                cell.add_attribute(comfy_table::Attribute::Bold)
            } else {
                cell
            }
        }));
    if !color {
        table.force_no_tty();
    } else {
        // `color` already says stdout is a terminal; do not leave it to comfy-table's own guess.
        table.enforce_styling();
    }
    for row in &rows.rows {
        table.add_row(row.iter().map(|v| {
            let cell = comfy_table::Cell::new(v.text());
            match v {
                _ if v.is_numeric() => cell.set_alignment(CellAlignment::Right),
                Value::Status(_, tone) if color => cell
                    .fg(tone.color())
                    .add_attribute(comfy_table::Attribute::Bold),
                _ => cell,
            }
        }));
    }
    writeln!(w, "{table}")?;
    if let Some(footer) = &rows.footer {
        writeln!(w, "{footer}")?;
    }
    Ok(())
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

/// Rows written one at a time as they arrive: CSV and JSON stream in constant memory; a table
/// (which must measure every cell) is kept until [`RowWriter::finish`].
pub struct RowWriter<W: Write> {
    format: Format,
    color: bool,
    sink: Sink<W>,
    columns: Vec<String>,
    /// For a table only.
    held: Vec<Vec<Value>>,
    written: u64,
}

enum Sink<W: Write> {
    Plain(W),
    Csv(Box<csv::Writer<W>>),
}

impl<W: Write> RowWriter<W> {
    pub fn new(out: W, format: Format, color: bool, columns: &[&str]) -> io::Result<Self> {
        let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        let sink = if format == Format::Csv {
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record(&columns)?;
            Sink::Csv(Box::new(csv))
        } else {
            Sink::Plain(out)
        };
        Ok(RowWriter {
            format,
            color,
            sink,
            columns,
            held: Vec::new(),
            written: 0,
        })
    }

    pub fn row(&mut self, row: Vec<Value>) -> io::Result<()> {
        debug_assert_eq!(row.len(), self.columns.len());
        match (&mut self.sink, self.format) {
            (Sink::Csv(csv), _) => csv.write_record(row.iter().map(Value::text))?,
            (Sink::Plain(out), Format::Json) => {
                out.write_all(if self.written == 0 { b"[\n" } else { b",\n" })?;
                write_json_object(out, &self.columns, &row)?;
            }
            (Sink::Plain(_), _) => self.held.push(row),
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
            Sink::Plain(mut out) => {
                if self.format == Format::Json {
                    out.write_all(if self.written == 0 { b"[]\n" } else { b"\n]\n" })?;
                } else {
                    let rows = Rows {
                        columns: self.columns,
                        rows: self.held,
                        footer,
                    };
                    write_table(&mut out, &rows, self.color)?;
                }
                out
            }
        };
        out.flush()?;
        Ok(out)
    }
}

/// How this run prints: the format of data on stdout, and whether notices go to stderr.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub format: Format,
    pub quiet: bool,
    /// Colour and bold on a terminal, unless NO_COLOR is set.
    pub color: bool,
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
        }
    }

    /// Writes rows to stdout.
    pub fn rows(&self, rows: &Rows) -> Result<()> {
        let mut out = io::stdout().lock();
        write_rows(&mut out, self.format, rows, self.color)
            .and_then(|()| out.flush())
            .context("cannot write to standard output")
    }

    /// Writes one record (`show`) to stdout.
    pub fn record(&self, columns: &[&str], values: &[Value]) -> Result<()> {
        let mut out = io::stdout().lock();
        write_record(&mut out, self.format, columns, values, self.color)
            .and_then(|()| out.flush())
            .context("cannot write to standard output")
    }

    /// A writer of rows to stdout, one at a time.
    pub fn row_writer(&self, columns: &[&str]) -> Result<RowWriter<io::StdoutLock<'static>>> {
        RowWriter::new(io::stdout().lock(), self.format, self.color, columns)
            .context("cannot write to standard output")
    }

    /// One line of text to stdout, for formats of a command's own (`db health --nagios`).
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
}

// Text helpers: numbers and nouns as messages and footers print them, and a user's text made
// safe for one line of a message.

/// 1234567 -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
        write_rows(&mut buf, format, &sample(), false).expect("render");
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
            write_record(&mut buf, format, &columns, &rows.rows[0], false).expect("render");
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
        assert!(render(Format::Table).contains("│ totalPurchases ┆ 1234.50              │"));
    }

    #[test]
    fn csv_streams_many_rows_in_order() {
        let mut buf = Vec::new();
        let mut w = RowWriter::new(&mut buf, Format::Csv, false, &["n"]).expect("writer");
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
            write_rows(&mut buf, format, &rows, color).expect("render");
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
        write_rows(&mut buf, Format::Json, &Rows::new(&["id"]), false).expect("render");
        assert_eq!(String::from_utf8(buf).expect("utf-8"), "[]\n");
    }

    #[test]
    fn table_right_aligns_numbers_and_shows_the_footer() {
        let mut rows = sample();
        rows.footer = Some("2 of 2 customers".into());
        let mut buf = Vec::new();
        write_rows(&mut buf, Format::Table, &rows, false).expect("render");
        assert_eq!(
            String::from_utf8(buf).expect("utf-8"),
            "\
┌────┬───────────────┬────────────────┬──────────────────────┬───────┐
│ id ┆ firstName     ┆ totalPurchases ┆ createdAt            ┆ notes │
╞════╪═══════════════╪════════════════╪══════════════════════╪═══════╡
│  1 ┆ Ada           ┆        1234.50 ┆ 2025-07-01T09:30:00Z ┆       │
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
    fn counted_nouns() {
        assert_eq!(counted(0, "order", "orders"), "0 orders");
        assert_eq!(counted(1, "order", "orders"), "1 order");
        assert_eq!(counted(6, "order item", "order items"), "6 order items");
    }
}
