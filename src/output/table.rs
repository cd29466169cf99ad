//! Tables for a person at a terminal: figures as a person reads them, columns that fit the
//! terminal's width (text cut with `…`), and rows printed as they arrive once the first block
//! has set the columns' widths, so that a table of any length takes the memory of one block.
//!
//! CSV and JSON never come here: what they print stays byte for byte what scripts read.

use super::{Tone, Value};
use std::io::{self, Write};
use time::OffsetDateTime;
use time::macros::format_description;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Rows held to measure the columns before any is printed. A shorter table is laid out to fit
/// all of its rows; past this many, later rows take the widths the first ones set (longer text
/// is cut with `…`, a wider number overflows its cell rather than lose a digit).
pub const BLOCK: usize = 1000;

/// The digits (and a separator) a column of numbers is given past its widest value when the
/// table goes on beyond its first block.
const NUMBER_ROOM: usize = 3;

/// The narrowest a text column is cut to, to fit the terminal.
const MIN_WIDTH: usize = 4;

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
    /// Never cut: a number or a timestamp cut short would read as another one.
    whole: bool,
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
            whole: value.is_numeric() || matches!(value, Value::Time(_)),
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
            whole: false,
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
        Cell::text(name)
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
    t.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default()
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
    // `a name …` reads as a word and a gap: `a name…` as a cut.
    let kept = out.trim_end().len();
    out.truncate(kept);
    out.push('…');
    out
}

/// The columns' widths: each its widest cell (header included), then the widest columns
/// narrowed one at a time, down to their `least`, until the table fits `limit` (or none can
/// be narrowed further).
fn fit(natural: &[usize], least: &[usize], limit: Option<usize>) -> Vec<usize> {
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
            .filter(|&i| widths[i] > least[i])
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
        // A text column gives way down to a few characters; a column of numbers or times only
        // down to its widest value (its header is cut instead).
        let mut least: Vec<usize> = natural.iter().map(|&w| w.min(MIN_WIDTH)).collect();
        let mut widest_whole = vec![None::<usize>; n];
        let mut numbers = vec![false; n];
        for row in &self.held {
            for (i, cell) in row.iter().enumerate().take(n) {
                let w = cell.width();
                natural[i] = natural[i].max(w);
                if cell.whole {
                    widest_whole[i] = Some(widest_whole[i].unwrap_or(0).max(w));
                }
                numbers[i] |= cell.right;
            }
        }
        // Past the first block the rows go on: ids and counts grow (1,000 to 200,006), so a
        // column of numbers gets room for three more digits than the block has.
        let more = self.held.len() >= BLOCK;
        for (i, whole) in widest_whole.iter().enumerate() {
            if let Some(w) = whole {
                let room = if more && numbers[i] { NUMBER_ROOM } else { 0 };
                natural[i] = natural[i].max(w + room);
                least[i] = (w + room).max(1);
            }
        }
        let widths = fit(&natural, &least, self.limit);
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
            // A number or a time is never cut: a wider one than the first block set overflows
            // its cell.
            let text = if cell.whole {
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
    fn the_widest_columns_give_way_first_down_to_their_least() {
        // 3 columns: borders take 10.
        assert_eq!(fit(&[4, 30, 20], &[4, 6, 6], Some(50)), [4, 18, 18]);
        assert_eq!(fit(&[4, 30, 20], &[4, 6, 6], None), [4, 30, 20]);
        // Cannot fit: every column stops at its least width.
        assert_eq!(fit(&[12, 30, 20], &[10, 6, 6], Some(10)), [10, 6, 6]);
    }

    #[test]
    fn timestamps_show_to_the_second_in_utc() {
        let t = OffsetDateTime::from_unix_timestamp(1_751_362_200)
            .expect("a timestamp")
            .replace_nanosecond(123_456_000)
            .expect("nanoseconds");
        assert_eq!(to_the_second(t), "2025-07-01T09:30:00Z");
    }

    fn render(rows: Vec<Vec<Value>>, limit: Option<usize>) -> String {
        let columns = ["id".to_string(), "name".to_string(), "total".to_string()];
        let mut table = TableWriter::new(&columns, false, limit);
        let mut out = Vec::new();
        for row in rows {
            let cells = row
                .iter()
                .zip(&columns)
                .map(|(v, c)| Cell::of(v, c))
                .collect();
            table.row(&mut out, cells).expect("a row");
        }
        table.finish(&mut out, None).expect("the end");
        String::from_utf8(out).expect("utf-8")
    }

    fn row(id: i64, name: &str, total: i64) -> Vec<Value> {
        vec![Value::Int(id), Value::Text(name.into()), Value::Int(total)]
    }

    #[test]
    fn past_the_first_block_rows_keep_its_widths_and_print_as_they_come() {
        let mut rows: Vec<Vec<Value>> = (1..=BLOCK as i64).map(|i| row(i, "Ada", 5)).collect();
        rows.push(row(1_000_001, "Ada Lovelace, Countess", 1_234_567));
        let text = render(rows, None);
        let lines: Vec<&str> = text.lines().collect();
        // The header and every row of the first block are as wide as the first block needs,
        // with room for three more digits in the columns of numbers.
        assert_eq!(lines[1], "│ id      ┆ name ┆ total │");
        assert_eq!(lines[3], "│       1 ┆ Ada  ┆     5 │");
        // The late row's text is cut to that width; its numbers are never cut.
        assert_eq!(lines[3 + BLOCK], "│ 1000001 ┆ Ada… ┆ 1,234,567 │");
        assert_eq!(lines.len(), BLOCK + 5);
    }

    #[test]
    fn a_table_fits_the_width_given_cutting_text_only() {
        let text = render(
            vec![row(1, "a name much longer than the terminal is wide", 12)],
            Some(30),
        );
        for line in text.lines() {
            assert!(line.width() <= 30, "{line:?} is wider than 30");
        }
        assert!(text.contains("a name much…"), "{text}");
        assert!(text.contains("12"), "{text}");
    }
}
