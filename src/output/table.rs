//! Tables for a person at a terminal: figures as a person reads them, columns that fit the
//! terminal's width (text cut with `…`), and rows printed as they arrive once the first block
//! has set the columns' widths, so that a table of any length takes the memory of one block.
//!
//! CSV and JSON never come here: what they print stays byte for byte what scripts read.

use super::{Tone, Value};
use std::io::{self, Write};
use time::OffsetDateTime;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Rows held to measure the columns before any is printed. A shorter table is laid out to fit
/// all of its rows; past this many, later rows take the widths the first ones set (longer text
/// is cut with `…`, a wider number overflows its cell rather than lose a digit).
pub const BLOCK: usize = 1000;

/// The narrowest a text column is cut to, to fit the terminal.
const MIN_WIDTH: usize = 6;

/// The borders of comfy-table's `UTF8_FULL_CONDENSED`, which crm's tables have always used.
const TOP: [&str; 4] = ["┌─", "─┬─", "─┐", "─"];
const HEADER_RULE: [&str; 4] = ["╞═", "═╪═", "═╡", "═"];
const BOTTOM: [&str; 4] = ["└─", "─┴─", "─┘", "─"];
const LEFT: &str = "│ ";
const BETWEEN: &str = " ┆ ";
const RIGHT: &str = " │";

/// One cell, ready to print: its lines of text, its alignment and its colour.
pub struct Cell {
    lines: Vec<String>,
    right: bool,
    tone: Option<Tone>,
}

impl Cell {
    /// `value` in column `column`, as a person reads it.
    pub fn of(value: &Value, column: &str) -> Cell {
        let text = match value {
            Value::Int(i) if is_identifier(column) => i.to_string(),
            Value::Int(i) => separated(&i.to_string()),
            Value::Money(d) => separated(&d.to_string()),
            Value::Time(t) => to_the_second(*t),
            Value::Bytes(n) => super::byte_size(*n),
            other => other.text(),
        };
        Cell {
            lines: text.lines().map(str::to_string).collect(),
            right: value.is_numeric(),
            tone: match value {
                Value::Status(_, tone) => Some(*tone),
                _ => None,
            },
        }
    }

    /// Plain text, left-aligned.
    pub fn text(text: &str) -> Cell {
        Cell {
            lines: text.lines().map(str::to_string).collect(),
            right: false,
            tone: None,
        }
    }

    /// The same cell, left-aligned (a record's values, one under the other, are not a column
    /// of figures).
    pub fn left(mut self) -> Cell {
        self.right = false;
        self
    }

    fn header(name: &str) -> Cell {
        Cell {
            lines: vec![name.to_string()],
            right: false,
            tone: None,
        }
    }

    fn width(&self) -> usize {
        self.lines.iter().map(|l| l.width()).max().unwrap_or(0)
    }
}

/// Ids, versions and process ids are names, not quantities: no thousands separators.
fn is_identifier(column: &str) -> bool {
    column == "id" || column.ends_with("Id") || column == "version" || column == "pid"
}

/// `-1234567.5` → `-1,234,567.5`: commas between the thousands of the integer part.
pub fn separated(number: &str) -> String {
    let (sign, rest) = match number.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", number),
    };
    let (int, frac) = match rest.find('.') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let mut out = String::with_capacity(number.len() + int.len() / 3);
    out.push_str(sign);
    for (i, digit) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out.push_str(frac);
    out
}

/// A timestamp in UTC to the second, always 20 characters: `2026-12-06T04:19:28Z`.
fn to_the_second(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `text` cut to `width` columns, ending with `…` when it was cut.
fn cut(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// The columns' widths: each its widest cell, then the widest text columns narrowed one at a
/// time until the table fits `limit` (or none can be narrowed further).
fn fit(natural: &[usize], numeric: &[bool], limit: Option<usize>) -> Vec<usize> {
    let mut widths = natural.to_vec();
    let Some(limit) = limit else {
        return widths;
    };
    // `│ ` + ` ┆ ` between columns + ` │`.
    let borders = 3 * widths.len() + 1;
    loop {
        let total: usize = widths.iter().sum::<usize>() + borders;
        if total <= limit {
            return widths;
        }
        let widest = (0..widths.len())
            .filter(|&i| !numeric[i] && widths[i] > MIN_WIDTH)
            .max_by_key(|&i| (widths[i], std::cmp::Reverse(i)));
        match widest {
            Some(i) => widths[i] -= 1,
            None => return widths,
        }
    }
}

/// A table being written: the first [`BLOCK`] rows are held to set the widths, then every row
/// is printed as it comes.
pub struct TableWriter {
    headers: Vec<Cell>,
    color: bool,
    limit: Option<usize>,
    held: Vec<Vec<Cell>>,
    /// Set once the header is printed.
    widths: Option<Vec<usize>>,
}

impl TableWriter {
    /// `limit` is the terminal's width, if the table is to fit one.
    pub fn new(columns: &[String], color: bool, limit: Option<usize>) -> TableWriter {
        TableWriter {
            headers: columns.iter().map(|c| Cell::header(c)).collect(),
            color,
            limit,
            held: Vec::new(),
            widths: None,
        }
    }

    pub fn row<W: Write + ?Sized>(&mut self, out: &mut W, cells: Vec<Cell>) -> io::Result<()> {
        match &self.widths {
            Some(widths) => write_row(out, widths, &cells, self.color),
            None => {
                self.held.push(cells);
                if self.held.len() >= BLOCK {
                    self.start(out)?;
                }
                Ok(())
            }
        }
    }

    /// Measures the held rows, prints the header and them.
    fn start<W: Write + ?Sized>(&mut self, out: &mut W) -> io::Result<()> {
        let n = self.headers.len();
        let mut natural: Vec<usize> = self.headers.iter().map(Cell::width).collect();
        let mut numeric = vec![false; n];
        for row in &self.held {
            for (i, cell) in row.iter().enumerate().take(n) {
                natural[i] = natural[i].max(cell.width());
                numeric[i] |= cell.right;
            }
        }
        let widths = fit(&natural, &numeric, self.limit);
        rule(out, &widths, TOP)?;
        write_header(out, &widths, &self.headers, self.color)?;
        rule(out, &widths, HEADER_RULE)?;
        for row in std::mem::take(&mut self.held) {
            write_row(out, &widths, &row, self.color)?;
        }
        self.widths = Some(widths);
        Ok(())
    }

    /// Prints what is still held, the bottom border and `footer`.
    pub fn finish<W: Write + ?Sized>(
        mut self,
        out: &mut W,
        footer: Option<&str>,
    ) -> io::Result<()> {
        if self.widths.is_none() {
            self.start(out)?;
        }
        if let Some(widths) = &self.widths {
            rule(out, widths, BOTTOM)?;
        }
        if let Some(footer) = footer {
            writeln!(out, "{footer}")?;
        }
        Ok(())
    }
}

fn rule<W: Write + ?Sized>(out: &mut W, widths: &[usize], parts: [&str; 4]) -> io::Result<()> {
    let [left, between, right, fill] = parts;
    let mut line = String::from(left);
    for (i, w) in widths.iter().enumerate() {
        if i > 0 {
            line.push_str(between);
        }
        line.push_str(&fill.repeat(*w));
    }
    line.push_str(right);
    writeln!(out, "{line}")
}

fn write_header<W: Write + ?Sized>(
    out: &mut W,
    widths: &[usize],
    headers: &[Cell],
    color: bool,
) -> io::Result<()> {
    let mut line = String::from(LEFT);
    for (i, (cell, &w)) in headers.iter().zip(widths).enumerate() {
        if i > 0 {
            line.push_str(BETWEEN);
        }
        let text = cut(cell.lines.first().map_or("", String::as_str), w);
        let pad = " ".repeat(w.saturating_sub(text.width()));
        if color {
            line.push_str(&format!("\u{1b}[1m{text}\u{1b}[0m{pad}"));
        } else {
            line.push_str(&text);
            line.push_str(&pad);
        }
    }
    line.push_str(RIGHT);
    writeln!(out, "{line}")
}

fn write_row<W: Write + ?Sized>(
    out: &mut W,
    widths: &[usize],
    cells: &[Cell],
    color: bool,
) -> io::Result<()> {
    let height = cells
        .iter()
        .map(|c| c.lines.len())
        .max()
        .unwrap_or(0)
        .max(1);
    for l in 0..height {
        let mut line = String::from(LEFT);
        for (i, (cell, &w)) in cells.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str(BETWEEN);
            }
            let raw = cell.lines.get(l).map_or("", String::as_str);
            // A number is never cut: a wider one than the first block set overflows its cell.
            let text = if cell.right {
                raw.to_string()
            } else {
                cut(raw, w)
            };
            let pad = " ".repeat(w.saturating_sub(text.width()));
            let shown = match cell.tone {
                Some(tone) if color && !text.is_empty() => {
                    format!("\u{1b}[38;5;{}m\u{1b}[1m{text}\u{1b}[0m", tone.ansi())
                }
                _ => text,
            };
            if cell.right {
                line.push_str(&pad);
                line.push_str(&shown);
            } else {
                line.push_str(&shown);
                line.push_str(&pad);
            }
        }
        line.push_str(RIGHT);
        writeln!(out, "{line}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_go_in_the_integer_part_only() {
        assert_eq!(separated("0"), "0");
        assert_eq!(separated("999"), "999");
        assert_eq!(separated("1000"), "1,000");
        assert_eq!(separated("135002559.01"), "135,002,559.01");
        assert_eq!(separated("-1234567.5"), "-1,234,567.5");
        assert_eq!(separated("-100"), "-100");
    }

    #[test]
    fn text_is_cut_with_an_ellipsis_to_the_width_asked() {
        assert_eq!(cut("Ada", 6), "Ada");
        assert_eq!(cut("Lovelace-Byron", 6), "Lovel…");
        assert_eq!(cut("日本語のテキスト", 6), "日本…");
    }

    #[test]
    fn the_widest_text_columns_give_way_first_and_numbers_never() {
        // 3 columns: borders take 10.
        assert_eq!(
            fit(&[4, 30, 20], &[true, false, false], Some(50)),
            [4, 18, 18]
        );
        assert_eq!(fit(&[4, 30, 20], &[true, false, false], None), [4, 30, 20]);
        // Cannot fit: text columns stop at the minimum, numbers keep their width.
        assert_eq!(
            fit(&[12, 30, 20], &[true, false, false], Some(10)),
            [12, MIN_WIDTH, MIN_WIDTH]
        );
    }

    #[test]
    fn timestamps_show_to_the_second_in_utc() {
        let t = OffsetDateTime::from_unix_timestamp(1_751_362_200)
            .expect("a timestamp")
            .replace_nanosecond(123_456_000)
            .expect("nanoseconds");
        assert_eq!(to_the_second(t), "2025-07-01T09:30:00Z");
    }
}
