//! Reading an import's CSV: the input (a UTF-8 BOM dropped, a row's size capped so that an
//! unclosed quote cannot swallow the memory), the header (names in any case and order), and each
//! row's values checked with [`crate::validate`] into typed cells, rendered again as CSV for
//! `COPY ... FROM STDIN`.

use crate::commands::table::{Column, ColumnKind, Table};
use crate::error;
use crate::output::{rfc3339_utc, shown};
use crate::validate;
use anyhow::Result;
use bytes::{BufMut, BytesMut};
use csv::ByteRecord;
use rust_decimal::Decimal;
use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

#[cfg(test)]
mod properties;

/// The most one row may take in the file. Past it, crm stops reading rather than holding the
/// rest of the file in memory as one field (an unclosed quote usually).
pub const MAX_ROW_BYTES: u64 = 16 * 1024 * 1024;

/// Columns a rejects file adds, which import ignores so that a corrected rejects file can be
/// imported again as it is.
pub const LINE_COLUMN: &str = "_line";
pub const ERROR_COLUMN: &str = "_error";

/// The input file, counting what was read (for the progress bar) and refusing to read more
/// than [`MAX_ROW_BYTES`] past the start of the row being read.
pub struct Input {
    inner: Box<dyn Read>,
    /// Bytes handed to the CSV reader.
    pub read: Arc<AtomicU64>,
    /// Where the row being read starts, as the CSV reader counts (after the BOM).
    pub row_start: Arc<AtomicU64>,
    /// The first bytes, held back until we know whether they are a BOM.
    head: Option<Vec<u8>>,
    /// Where the bytes read so far leave a CSV parser, as far as quotes go.
    quote: Quote,
    /// Whether the end of the file was reached.
    ended: bool,
    /// The line the next byte is on: one more than the newlines read.
    line: u64,
    /// Whether the next byte, unless it ends a line too, starts a row (a blank line is none).
    at_row_start: bool,
    /// The line of each row that starts in the bytes read so far and that the CSV reader has
    /// not yet returned: as many as fit in its buffer. The reader's own line numbers are off
    /// after a CRLF line ending (it counts the LF into the next row) or a blank line.
    row_lines: VecDeque<u64>,
}

/// Whether the bytes so far end inside a quoted field: the CSV reader's own states (RFC 4180,
/// a quote opens a field only at its start), which it does not expose. The reader takes a file
/// that ends inside a quoted field as if the quote had been closed, so without this the
/// last row of `Bo,"Bar` would import as `Bar` and a newline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    /// At the start of a field.
    Start,
    /// In a field that did not start with a quote: quotes are data.
    Plain,
    /// Inside a quoted field.
    Open,
    /// A quote inside a quoted field: the end of the field, or the first of two.
    Closing,
}

impl Quote {
    fn next(self, byte: u8) -> Quote {
        let ends_field = matches!(byte, b',' | b'\n' | b'\r');
        match (self, byte) {
            (Quote::Start, b'"') => Quote::Open,
            (Quote::Open, b'"') => Quote::Closing,
            (Quote::Open, _) => Quote::Open,
            (Quote::Closing, b'"') => Quote::Open,
            (_, _) if ends_field => Quote::Start,
            (_, _) => Quote::Plain,
        }
    }
}

/// The error [`Input`] gives when a row is too long.
#[derive(Debug)]
pub struct RowTooLong;

impl fmt::Display for RowTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the row is longer than {} MiB (is a quote left open?)",
            MAX_ROW_BYTES / 1024 / 1024
        )
    }
}

impl std::error::Error for RowTooLong {}

impl Input {
    pub fn new(inner: Box<dyn Read>) -> Input {
        Input {
            inner,
            read: Arc::default(),
            row_start: Arc::default(),
            head: None,
            quote: Quote::Start,
            ended: false,
            line: 1,
            at_row_start: true,
            row_lines: VecDeque::new(),
        }
    }

    /// Follows the bytes handed to the CSV reader: quotes, lines, where rows start.
    fn scan(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            let ends_line = matches!(byte, b'\n' | b'\r');
            if ends_line {
                self.at_row_start |= self.quote != Quote::Open;
            } else if self.at_row_start {
                self.row_lines.push_back(self.line);
                self.at_row_start = false;
            }
            if byte == b'\n' {
                self.line += 1;
            }
            self.quote = self.quote.next(byte);
        }
    }

    /// The line where the row the CSV reader returns next (or is reading) starts.
    pub fn next_row_line(&self) -> Option<u64> {
        self.row_lines.front().copied()
    }

    /// The CSV reader returned a row: the line where it started.
    pub fn row_returned(&mut self) -> Option<u64> {
        self.row_lines.pop_front()
    }

    /// Whether the file ended inside a quoted field (so the last row read is cut short).
    pub fn ends_in_open_quote(&self) -> bool {
        self.ended && self.quote == Quote::Open
    }

    /// Reads the first three bytes (less at the end of the file) and drops a UTF-8 BOM.
    fn read_head(&mut self) -> io::Result<Vec<u8>> {
        let mut head = vec![0; 3];
        let mut filled = 0;
        while filled < head.len() {
            match self.inner.read(&mut head[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        head.truncate(filled);
        if head == b"\xEF\xBB\xBF" {
            head.clear();
        }
        Ok(head)
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.read.load(Ordering::Relaxed);
        if read.saturating_sub(self.row_start.load(Ordering::Relaxed)) > MAX_ROW_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, RowTooLong));
        }
        let head = match self.head.take() {
            Some(head) => head,
            None if read == 0 => self.read_head()?,
            None => Vec::new(),
        };
        let n = if head.is_empty() {
            self.inner.read(buf)?
        } else {
            let n = head.len().min(buf.len());
            buf[..n].copy_from_slice(&head[..n]);
            if n < head.len() {
                self.head = Some(head[n..].to_vec());
            }
            n
        };
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        if n == 0 {
            self.ended = true;
        }
        self.scan(&buf[..n]);
        Ok(n)
    }
}

/// What the header says: which column each field fills.
pub struct Header {
    /// For each field of a row, the index in `entity.columns` of the column it fills; `None`
    /// for `_line` and `_error`, which are ignored.
    pub fields: Vec<Option<usize>>,
    /// The columns the file has, as indexes in `entity.columns`, in the entity's order: the
    /// temporary table's columns and the order of a row's cells.
    pub present: Vec<usize>,
    /// For each field, its place in `present`.
    slots: Vec<Option<usize>>,
    /// The header's own fields, for the rejects file.
    pub raw: ByteRecord,
}

impl Header {
    /// Reads the header: names in any case and order, surrounding spaces ignored. An unknown,
    /// repeated or missing required column is exit 2, naming it.
    pub fn parse(entity: &Table, record: &ByteRecord) -> Result<Header> {
        let first = record.get(0).unwrap_or_default();
        if first.starts_with(b"\xFF\xFE") || first.starts_with(b"\xFE\xFF") {
            return Err(error::usage(
                "line 1: the file is UTF-16 (Excel's \"Unicode text\"?): save it as CSV UTF-8",
            ));
        }
        let mut problems = Vec::new();
        let mut fields = Vec::with_capacity(record.len());
        for raw in record {
            let Ok(name) = std::str::from_utf8(raw) else {
                problems.push(format!(
                    "a column name is not valid UTF-8: \"{}\" (save the file as UTF-8)",
                    shown(&String::from_utf8_lossy(raw), 80)
                ));
                fields.push(None);
                continue;
            };
            let name = name.trim();
            if [LINE_COLUMN, ERROR_COLUMN]
                .iter()
                .any(|c| c.eq_ignore_ascii_case(name))
            {
                fields.push(None);
                continue;
            }
            match entity
                .columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(name))
            {
                Some(i) if fields.contains(&Some(i)) => {
                    problems.push(format!(
                        "the column {} appears twice",
                        entity.columns[i].name
                    ));
                    fields.push(None);
                }
                Some(i) => fields.push(Some(i)),
                None => {
                    let hint = if name.contains([';', '\t']) {
                        " (crm reads comma-separated files: is this one separated by semicolons or tabs?)"
                    } else {
                        ""
                    };
                    problems.push(format!("unknown column \"{}\"{hint}", shown(name, 80)));
                    fields.push(None);
                }
            }
        }
        for (i, column) in entity.columns.iter().enumerate() {
            if column.required && !fields.contains(&Some(i)) {
                problems.push(format!("the required column {} is missing", column.name));
            }
        }
        if !problems.is_empty() {
            return Err(error::usage(format!(
                "line 1: header: {} (the columns are {})",
                problems.join("; "),
                entity.column_names().join(",")
            )));
        }
        let present: Vec<usize> = (0..entity.columns.len())
            .filter(|i| fields.contains(&Some(*i)))
            .collect();
        if present.is_empty() {
            return Err(error::usage(format!(
                "line 1: header: none of the columns {} is there",
                entity.column_names().join(",")
            )));
        }
        let slots = fields
            .iter()
            .map(|f| f.and_then(|i| present.iter().position(|p| *p == i)))
            .collect();
        Ok(Header {
            fields,
            present,
            slots,
            raw: record.clone(),
        })
    }

    /// Whether the file has the column of this kind, and where in a row's cells.
    pub fn slot_of(&self, entity: &Table, kind: ColumnKind) -> Option<usize> {
        self.present
            .iter()
            .position(|i| entity.columns[*i].kind == kind)
    }
}

/// One checked value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i32),
    Text(String),
    Money(Decimal),
    Time(OffsetDateTime),
}

/// A problem with one row: `column: problem`, or the row's own (`column` empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub column: &'static str,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.column, self.message)
        }
    }
}

impl Problem {
    pub fn new(column: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            column,
            message: shown(&message.into(), 200),
        }
    }
}

/// Checks one row: its cells in `header.present` order, or every problem it has.
pub fn check_row(
    entity: &Table,
    header: &Header,
    record: &ByteRecord,
) -> Result<Vec<Cell>, Vec<Problem>> {
    if record.len() != header.fields.len() {
        return Err(vec![field_count_problem(entity, header, record)]);
    }
    let mut cells = vec![Cell::Null; header.present.len()];
    let mut problems = Vec::new();
    for ((raw, column), slot) in record.iter().zip(&header.fields).zip(&header.slots) {
        let (Some(column), Some(slot)) = (column, slot) else {
            continue;
        };
        let column = &entity.columns[*column];
        match std::str::from_utf8(raw) {
            Ok(text) => match check_value(column, text) {
                Ok(cell) => cells[*slot] = cell,
                Err(message) => problems.push(Problem::new(column.name, message)),
            },
            Err(e) => problems.push(Problem::new(
                column.name,
                format!(
                    "not valid UTF-8 (byte 0x{:02X} at position {}; save the file as UTF-8)",
                    raw[e.valid_up_to()],
                    e.valid_up_to() + 1
                ),
            )),
        }
    }
    if problems.is_empty() {
        Ok(cells)
    } else {
        Err(problems)
    }
}

/// A row with more or fewer fields than the header. A field running over several lines
/// usually means a quote left open; say so, naming its column.
fn field_count_problem(entity: &Table, header: &Header, record: &ByteRecord) -> Problem {
    let count = format!(
        "{} fields, but the header has {}",
        record.len(),
        header.fields.len()
    );
    let multiline = record
        .iter()
        .position(|f| f.contains(&b'\n') || f.contains(&b'\r'));
    match multiline {
        Some(i) => {
            let column = header
                .fields
                .get(i)
                .copied()
                .flatten()
                .map_or("", |c| entity.columns[c].name);
            Problem::new(
                column,
                format!("{count}: a quoted field runs over several lines (is a quote left open?)"),
            )
        }
        None => Problem::new("", count),
    }
}

/// The last row of a file that ends inside a quoted field (which the CSV reader closes
/// silently), when it has the header's number of fields: its last field took the rest of the file.
pub fn open_quote_problem(entity: &Table, header: &Header) -> Problem {
    let column = header
        .fields
        .last()
        .copied()
        .flatten()
        .map_or("", |c| entity.columns[c].name);
    Problem::new(
        column,
        "a quote is left open: the field runs to the end of the file",
    )
}

/// Checks one field. Empty is NULL (blank too, for a number, e-mail or time); a required
/// column must not be empty.
fn check_value(column: &Column, text: &str) -> Result<Cell, String> {
    let exact = matches!(
        column.kind,
        ColumnKind::Text | ColumnKind::Name | ColumnKind::LongText
    );
    let blank = if exact {
        text.is_empty()
    } else {
        text.trim().is_empty()
    };
    if blank {
        return if column.required {
            Err("must not be empty".to_string())
        } else {
            Ok(Cell::Null)
        };
    }
    Ok(match column.kind {
        ColumnKind::Id => Cell::Int(id(text)?),
        ColumnKind::Text => Cell::Text(validate::text(text)?),
        ColumnKind::Name => Cell::Text(validate::name(text)?),
        ColumnKind::LongText => Cell::Text(validate::long_text(text)?),
        ColumnKind::Email => Cell::Text(validate::email(text)?),
        ColumnKind::Phone => Cell::Text(validate::phone(text)?),
        ColumnKind::Money => Cell::Money(validate::money(text)?),
        ColumnKind::Stock => Cell::Int(validate::stock(text)?),
        ColumnKind::Time => Cell::Time(timestamp(text)?),
        // Columns of tables that are exported only (orders and their items).
        ColumnKind::Reference | ColumnKind::Integer | ColumnKind::Count | ColumnKind::Label => {
            return Err("crm does not import this column".to_string());
        }
    })
}

/// An id: a whole number from 1 to 2147483647 (SERIAL).
fn id(text: &str) -> Result<i32, String> {
    text.trim()
        .parse::<i32>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("not an id: \"{text}\" (expected a whole number from 1)"))
}

/// A timestamp: RFC 3339 (`2025-07-01T09:30:00Z`, `...+02:00`), also with a space for the
/// `T` and PostgreSQL's short offsets (`2025-07-01 09:30:00.5+02`, as psql prints them); without
/// an offset, or a date alone, it is UTC. It must lie within [`utc_in_range`].
fn timestamp(text: &str) -> Result<OffsetDateTime, String> {
    let t = parse_timestamp(text)?;
    utc_in_range(t).ok_or_else(|| {
        format!(
            "out of range: \"{text}\" (expected a time from 0001-01-01T00:00:00Z to \
             9999-12-31T23:59:59.999999Z in UTC; PostgreSQL has no year 0)"
        )
    })
}

/// `t` in UTC, if it is a time the server takes as crm sends it, RFC 3339 text in UTC
/// ([`render`]): from year 1 (PostgreSQL refuses year `0000`, and crm writes no BC) to 9999
/// (RFC 3339's four digits, and the most that crm can read back).
fn utc_in_range(t: OffsetDateTime) -> Option<OffsetDateTime> {
    t.checked_to_offset(time::UtcOffset::UTC)
        .filter(|utc| (1..=9999).contains(&utc.year()))
}

fn parse_timestamp(text: &str) -> Result<OffsetDateTime, String> {
    let bad = || {
        format!(
            "not a timestamp: \"{text}\" (expected RFC 3339, e.g. 2025-07-01T09:30:00Z or 2025-07-01T11:30:00+02:00)"
        )
    };
    let mut s = text.trim().to_string();
    if s.len() > 10 && s.as_bytes()[10] == b' ' {
        s.replace_range(10..11, "T");
    }
    // A short offset: +02 or +0230 -> +02:00, +02:30.
    let offset_at = s.rfind(['+', '-']).filter(|at| *at > 10);
    if let Some(at) = offset_at {
        let offset = &s[at + 1..];
        if offset.len() == 2 && offset.bytes().all(|b| b.is_ascii_digit()) {
            s.push_str(":00");
        } else if offset.len() == 4 && offset.bytes().all(|b| b.is_ascii_digit()) {
            s.insert(at + 3, ':');
        }
    }
    if let Ok(t) = OffsetDateTime::parse(&s, &Rfc3339) {
        return Ok(t);
    }
    let local = format_description!(
        version = 2,
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    if let Ok(t) = PrimitiveDateTime::parse(&s, &local) {
        return Ok(t.assume_utc());
    }
    let date = format_description!(version = 2, "[year]-[month]-[day]");
    if let Ok(d) = Date::parse(&s, &date) {
        return Ok(d.midnight().assume_utc());
    }
    Err(bad())
}

/// Appends one row to a `COPY ... (FORMAT csv)` stream: the line number, then the cells, then
/// `raw` (when given) as a `bytea` in hex. Text is always quoted, so that an unquoted empty
/// field is NULL and nothing is read as `\.`.
pub fn render(buf: &mut BytesMut, line: u64, cells: &[Cell], raw: Option<&[u8]>) {
    let _ = write!(buf, "{line}");
    for cell in cells {
        buf.put_u8(b',');
        match cell {
            Cell::Null => {}
            Cell::Int(n) => {
                let _ = write!(buf, "{n}");
            }
            Cell::Money(d) => {
                let _ = write!(buf, "{d}");
            }
            Cell::Time(t) => buf.put_slice(rfc3339_utc(*t).as_bytes()),
            Cell::Text(s) => {
                buf.put_u8(b'"');
                if s.contains('"') {
                    buf.put_slice(s.replace('"', "\"\"").as_bytes());
                } else {
                    buf.put_slice(s.as_bytes());
                }
                buf.put_u8(b'"');
            }
        }
    }
    if let Some(raw) = raw {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        buf.put_slice(b",\\x");
        for byte in raw {
            buf.put_u8(HEX[usize::from(byte >> 4)]);
            buf.put_u8(HEX[usize::from(byte & 0xf)]);
        }
    }
    buf.put_u8(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::customers::TABLE as CUSTOMERS;
    use crate::commands::products::TABLE as PRODUCTS;

    fn record(fields: &[&str]) -> ByteRecord {
        ByteRecord::from(fields.to_vec())
    }

    #[test]
    fn the_header_takes_any_case_and_order_and_ignores_rejects_columns() {
        let h = Header::parse(
            &CUSTOMERS,
            &record(&["EMAIL", " firstname ", "_line", "Id", "_error"]),
        )
        .unwrap();
        assert_eq!(h.fields, vec![Some(3), Some(1), None, Some(0), None]);
        assert_eq!(h.present, vec![0, 1, 3]);
        let cells = check_row(
            &CUSTOMERS,
            &h,
            &record(&["Ada@Example.com", "Ada", "7", "7", "x"]),
        )
        .unwrap();
        assert_eq!(
            cells,
            vec![
                Cell::Int(7),
                Cell::Text("Ada".into()),
                Cell::Text("ada@example.com".into())
            ]
        );
    }

    #[test]
    fn a_bad_header_names_every_problem() {
        let err = Header::parse(&PRODUCTS, &record(&["id", "Name", "name", "colour"]))
            .err()
            .unwrap();
        assert_eq!(crate::error::exit_code(&err), 2);
        let message = err.to_string();
        assert!(
            message.contains("the column name appears twice"),
            "{message}"
        );
        assert!(message.contains("unknown column \"colour\""), "{message}");
        assert!(
            message.contains("the required column price is missing"),
            "{message}"
        );
    }

    #[test]
    fn each_bad_value_is_a_problem_of_its_column() {
        let h =
            Header::parse(&PRODUCTS, &record(&["name", "price", "stock", "createdAt"])).unwrap();
        let problems =
            check_row(&PRODUCTS, &h, &record(&["", "-1", "x", "yesterday"])).unwrap_err();
        let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(shown[0], "name: must not be empty");
        assert_eq!(shown[1], "price: must not be negative, got -1");
        assert!(shown[2].starts_with("stock: not a whole number"));
        assert!(shown[3].starts_with("createdAt: not a timestamp: \"yesterday\""));
        let problems = check_row(&PRODUCTS, &h, &record(&["a", "1"])).unwrap_err();
        assert_eq!(problems[0].to_string(), "2 fields, but the header has 4");
    }

    #[test]
    fn timestamps_in_rfc3339_psql_and_plain_forms() {
        let utc = |s: &str| timestamp(s).map(rfc3339_utc);
        assert_eq!(utc("2025-07-01T09:30:00Z").unwrap(), "2025-07-01T09:30:00Z");
        assert_eq!(
            utc("2025-07-01T11:30:00.25+02:00").unwrap(),
            "2025-07-01T09:30:00.25Z"
        );
        assert_eq!(
            utc("2025-07-01 11:30:00.123456+02").unwrap(),
            "2025-07-01T09:30:00.123456Z"
        );
        assert_eq!(utc("2025-07-01 09:30:00").unwrap(), "2025-07-01T09:30:00Z");
        assert_eq!(utc("2025-07-01").unwrap(), "2025-07-01T00:00:00Z");
        assert!(utc("2025-13-01").is_err());
        assert!(utc("now").is_err());
    }

    /// PostgreSQL refuses `0000-06-01T00:00:00Z` (it has no year 0), and a time that UTC puts
    /// in year 0 or 10000 cannot be sent as RFC 3339 in UTC (it made crm panic).
    #[test]
    fn timestamps_are_refused_outside_years_1_to_9999_in_utc() {
        let utc = |s: &str| timestamp(s).map(rfc3339_utc);
        assert_eq!(utc("0001-01-01T00:00:00Z").unwrap(), "0001-01-01T00:00:00Z");
        assert_eq!(
            utc("0001-01-01T01:00:00+01:00").unwrap(),
            "0001-01-01T00:00:00Z"
        );
        assert_eq!(
            utc("9999-12-31T23:59:59.999999Z").unwrap(),
            "9999-12-31T23:59:59.999999Z"
        );
        assert_eq!(
            utc("9999-12-31T23:59:59.9999999Z").unwrap(),
            "9999-12-31T23:59:59.999999Z"
        );
        for bad in [
            "0000-06-01T00:00:00Z",
            "0000-12-31T23:59:59.999999Z",
            "0000-06-01",
            "0000-06-01 00:00:00",
            "0001-01-01T00:59:59+01:00",
            "9999-12-31T23:00:00-02:00",
            "-0001-01-01",
        ] {
            assert!(utc(bad).is_err(), "{bad}");
        }
        assert!(
            utc("0000-06-01T00:00:00Z")
                .unwrap_err()
                .starts_with("out of range: \"0000-06-01T00:00:00Z\" (expected")
        );
    }

    #[test]
    fn ids_are_positive_int4() {
        assert_eq!(id(" 7 "), Ok(7));
        assert!(id("0").is_err());
        assert!(id("-3").is_err());
        assert!(id("2147483648").is_err());
        assert!(id("1.0").is_err());
    }

    #[test]
    fn rendering_quotes_text_and_leaves_null_empty() {
        let mut buf = BytesMut::new();
        render(
            &mut buf,
            3,
            &[
                Cell::Int(1),
                Cell::Text("say \"hi\",\nbye".into()),
                Cell::Null,
                Cell::Money(validate::money("2.5").unwrap()),
            ],
            None,
        );
        assert_eq!(&buf[..], b"3,1,\"say \"\"hi\"\",\nbye\",,2.50\n");
        // The row as the file had it, as a bytea in hex.
        buf.clear();
        render(&mut buf, 4, &[Cell::Null], Some(b"a,\xff"));
        assert_eq!(&buf[..], b"4,,\\x612cff\n");
    }

    #[test]
    fn input_drops_a_bom_and_stops_a_runaway_row() {
        let mut input = Input::new(Box::new(&b"\xEF\xBB\xBFid\n"[..]));
        let mut out = Vec::new();
        input.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"id\n");

        let huge = vec![b'x'; (MAX_ROW_BYTES + 100_000) as usize];
        let mut input = Input::new(Box::new(io::Cursor::new(huge)));
        let mut buf = vec![0; 64 * 1024];
        let err = loop {
            match input.read(&mut buf) {
                Ok(0) => panic!("read the whole runaway row"),
                Ok(_) => {}
                Err(e) => break e,
            }
        };
        assert!(err.get_ref().is_some_and(|e| e.is::<RowTooLong>()));
    }

    /// The line where each row starts, as [`Input`] counts, and whether the file ends in an
    /// open quote.
    fn row_lines(data: &'static [u8]) -> (Vec<u64>, bool) {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(Input::new(Box::new(data)));
        let mut record = ByteRecord::new();
        let mut lines = Vec::new();
        while reader.read_byte_record(&mut record).unwrap() {
            lines.push(reader.get_mut().row_returned().unwrap());
        }
        (lines, reader.get_ref().ends_in_open_quote())
    }

    /// The CSV reader counts a CRLF's LF into the next row, and a blank line as the next
    /// row's: found by the corpus (`crlf-bom-bad-line-4.csv` was reported as line 3).
    #[test]
    fn rows_start_on_the_right_line_after_crlf_blank_lines_and_quoted_newlines() {
        let lf = row_lines(b"a,b\n1,2\n\"x\ny\",4\n\n5,6\n7,8");
        assert_eq!(lf, (vec![1, 2, 3, 6, 7], false));
        let crlf = row_lines(b"\xEF\xBB\xBFa,b\r\n1,2\r\n\"x\r\ny\",4\r\n\r\n5,6\r\n");
        assert_eq!(crlf, (vec![1, 2, 3, 6], false));
        let quotes = row_lines(b"a,b\n\"\",\"say \"\"hi\"\"\"\nx\"y,\"z\"w\n");
        assert_eq!(quotes, (vec![1, 2, 3], false));
    }

    /// The CSV reader closes a quote left open at the end of the file: found by the corpus
    /// (`Bo,"Bar` as the last line imported `Bar` and a newline).
    #[test]
    fn a_quote_left_open_at_the_end_is_seen() {
        assert_eq!(row_lines(b"a,b\nBo,\"Bar\n"), (vec![1, 2], true));
        assert_eq!(row_lines(b"a,b\nBo,\"Bar\"\"\n"), (vec![1, 2], true));
        assert_eq!(row_lines(b"a,b\nBo,\"Bar\"\n"), (vec![1, 2], false));
        assert_eq!(row_lines(b"a,b\nBo,Ba\"r\n"), (vec![1, 2], false));
        let h = Header::parse(&CUSTOMERS, &record(&["firstName", "lastName"])).unwrap();
        assert_eq!(
            open_quote_problem(&CUSTOMERS, &h).to_string(),
            "lastName: a quote is left open: the field runs to the end of the file"
        );
    }
}
