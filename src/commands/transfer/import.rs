//! `import`: one pass over the file in one transaction.
//!
//! Each row is read and checked ([`rows::check_row`]); good rows are rendered as CSV into `COPY
//! crm_import FROM STDIN` as they come, in chunks, while the server stores the previous chunk.
//! Two rows of the file with one id (or one e-mail, for customers without ids) are a problem of
//! the later row, found once the rows are in the temporary table by one set-based query
//! ([`Plan::first_duplicates`]): nothing that grows with the file stays in crm's memory.
//! Only when the whole file was good (or `--skip-invalid`) does the write happen: lock, conflict
//! check, sequence, `UPDATE ... FROM` (with `--on-conflict update`) and `INSERT ... SELECT`,
//! commit. Any failure before the commit rolls everything back. A row keyed by an e-mail that
//! several existing customers have can only be found once the table is locked; `--skip-invalid`
//! then rejects it like the others, which is why the skipped rows are listed only after the lock.

use super::dedupe::Report;
use super::rows::{self, Cell, ERROR_COLUMN, Header, Input, LINE_COLUMN, Problem, RowTooLong};
use super::target::{Target, Written};
use super::write::{Ambiguous, Conflicts, Counts, Duplicate, MOST_TOTAL, Plan, SHOWN, TotalsKept};
use super::{ImportArgs, OnConflict};
use crate::commands::record::named_by_id;
use crate::commands::table::{ColumnKind, Table};
use crate::context::Context;
use crate::db;
use crate::error;
use crate::output::{Output, thousands};
use anyhow::{Context as _, Result};
use bytes::{Bytes, BytesMut};
use csv::ByteRecord;
use futures_util::{SinkExt, TryStreamExt, pin_mut};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_postgres::Transaction;

/// How much rendered CSV is sent to the server at a time.
const CHUNK: usize = 256 * 1024;

/// How often (in rows) the progress bar is told.
const PROGRESS_EVERY: u64 = 4096;

pub async fn run(ctx: &Context, entity: &Table, args: ImportArgs) -> Result<()> {
    let mut source = Source::open(&args.file)?;
    let name = source.name.clone();
    let mut record = ByteRecord::new();
    if !source.next(&mut record)? {
        return Err(error::usage(format!(
            "{name} is empty: expected a header line such as {}",
            entity.column_names().join(",")
        )));
    }
    let header = Header::parse(entity, &record).with_context(|| format!("cannot import {name}"))?;
    let report = match &args.dedupe_report {
        Some(_) if !entity.keyed_by_email => {
            return Err(error::usage(format!(
                "--dedupe-report is for customers: {} have no duplicate rules",
                entity.plural
            )));
        }
        Some(path) => Some(Report::create(path)?),
        None => None,
    };
    let mut rejects = match &args.rejects {
        Some(path) => Some(Rejects::create(path, &header)?),
        None => None,
    };

    let db = ctx.db().await?;
    let mut conn = db.get().await?;
    // The plain tokio-postgres client: its transaction is what the shared query helpers take.
    let client: &mut tokio_postgres::Client = &mut conn;
    let tx = client
        .transaction()
        .await
        .with_context(|| format!("cannot import {}", entity.plural))?;
    crate::db::tx::bound_locks(&tx).await?;
    let mut plan = Plan {
        entity,
        present: &header.present,
        mode: args.on_conflict,
        rows_without_id: false,
        max_id: None,
        // A rejects file may yet take rows whose key an earlier line has.
        keep_raw: args.rejects.is_some(),
    };
    let mut tally = copy_rows(
        ctx,
        &tx,
        &mut plan,
        &header,
        &mut source,
        &mut rejects,
        &args,
    )
    .await?;
    // Before anything is written: the file's rows against the customers that were there.
    if let Some(report) = report {
        write_report(ctx, &plan, &tx, report, &name, &args).await?;
    }
    if tally.bad_rows > 0 && !args.skip_invalid {
        tally.print_problems(ctx, true);
        return Err(error::usage(format!(
            "{} of {} rows in {name} {} invalid; nothing was imported",
            thousands(tally.bad_rows),
            thousands(tally.rows),
            if tally.bad_rows == 1 { "is" } else { "are" }
        )));
    }

    let bar = ctx.out.progress(None);
    bar.set_prefix(format!("importing {}", entity.plural));
    bar.set_message("checking for conflicts");
    plan.analyze(&tx).await?;
    if !args.dry_run {
        plan.lock(&tx).await?;
    }
    if args.skip_invalid {
        reject_ambiguous(&plan, &tx, &mut tally, &mut rejects).await?;
    } else {
        let (ambiguous, first) = plan.ambiguous(&tx).await?;
        if ambiguous > 0 {
            bar.finish_and_clear();
            return Err(ambiguous_error(&ctx.out, entity, &name, ambiguous, &first));
        }
    }
    // Skipped rows, the ambiguous ones with the others, by line.
    bar.suspend(|| tally.print_problems(ctx, false));
    // What skip and update do with conflicts needs no list of them, except to foretell it.
    let conflicts = if args.on_conflict == OnConflict::Error || args.dry_run {
        plan.conflicts(&tx).await?
    } else {
        Conflicts::default()
    };
    if args.on_conflict == OnConflict::Error && conflicts.total > 0 {
        bar.finish_and_clear();
        return Err(conflict_error(&ctx.out, entity, &name, &conflicts));
    }
    let totals = plan.totals_kept(&tx).await?;
    if totals.beyond > 0 {
        bar.finish_and_clear();
        return Err(beyond_error(&ctx.out, &name, &totals));
    }
    warn_totals(&ctx.out, &totals, args.dry_run);
    if args.dry_run {
        bar.finish_and_clear();
        ctx.out
            .notice(dry_run_summary(entity, &name, &args, &tally, &conflicts));
        return Ok(());
    }
    bar.set_message(format!("writing {} rows", thousands(tally.good)));
    plan.move_sequence(&tx).await?;
    let counts = plan.write(&tx).await?;
    let written = rejects.map(Rejects::finish).transpose()?;
    tx.commit()
        .await
        .with_context(|| format!("cannot import {}", entity.plural))?;
    if let Some(written) = written {
        written.persist()?;
    }
    bar.finish_and_clear();
    ctx.out
        .notice(summary(entity, &name, &args, &tally, &counts));
    Ok(())
}

/// Writes the dedupe report (see [`super::dedupe`]) and puts it in place, whatever the import
/// does next, and says how many rows it lists.
async fn write_report(
    ctx: &Context,
    plan: &Plan<'_>,
    tx: &Transaction<'_>,
    report: Report,
    name: &str,
    args: &ImportArgs,
) -> Result<()> {
    let bar = ctx.out.progress(None);
    bar.set_message("looking for rows like existing customers");
    plan.analyze(tx).await?;
    let (lines, written) = report.write(plan, tx).await?;
    written.persist()?;
    bar.finish_and_clear();
    if let Some(path) = &args.dedupe_report {
        let to = if path.as_os_str() == "-" {
            "standard output".to_string()
        } else {
            path.display().to_string()
        };
        ctx.out.notice(format!(
            "{} {} of {name} {} like existing customers: see {to}",
            thousands(lines),
            if lines == 1 { "row" } else { "rows" },
            if lines == 1 { "looks" } else { "look" },
        ));
    }
    Ok(())
}

/// Reads and checks every row, copying the good ones into the temporary table (which it
/// creates) and the bad ones into the rejects file; then finds the rows whose key an earlier
/// line has, where the rows already are (the temporary table), so that nothing grows with the
/// file in memory. With `--skip-invalid` those go to the rejects file too; without, they are
/// problems like the others.
async fn copy_rows(
    ctx: &Context,
    tx: &Transaction<'_>,
    plan: &mut Plan<'_>,
    header: &Header,
    source: &mut Source,
    rejects: &mut Option<Rejects>,
    args: &ImportArgs,
) -> Result<Tally> {
    let entity = plan.entity;
    let failed = || format!("cannot import {}", entity.plural);
    db::batch_execute(tx, &plan.create_temp_sql())
        .await
        .with_context(failed)?;
    let copy_sql = plan.copy_in_sql();
    let sink = tx
        .copy_in::<_, Bytes>(copy_sql.as_str())
        .await
        .with_context(failed)?;
    pin_mut!(sink);
    let bar = ctx.out.progress(source.len);
    bar.set_prefix(format!("importing {}", entity.plural));
    bar.set_message("0 rows");

    let id_slot = header.slot_of(entity, ColumnKind::Id);
    let mut raw = plan.keep_raw.then(RawRow::new);
    let mut tally = Tally::default();
    let mut record = ByteRecord::new();
    let mut buf = BytesMut::with_capacity(CHUNK + 64 * 1024);
    loop {
        match source.next(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                bar.finish_and_clear();
                tally.print_problems(ctx, true);
                return Err(e);
            }
        }
        let line = source.line;
        tally.rows += 1;
        let checked = if source.ends_in_open_quote() && record.len() == header.fields.len() {
            Err(vec![rows::open_quote_problem(entity, header)])
        } else {
            rows::check_row(entity, header, &record)
        };
        match checked {
            Ok(cells) => {
                tally.good += 1;
                match id_slot.map(|slot| &cells[slot]) {
                    Some(Cell::Int(id)) => plan.max_id = plan.max_id.max(Some(*id)),
                    _ => plan.rows_without_id = true,
                }
                let raw = raw.as_mut().map(|raw| raw.encode(&record, header));
                rows::render(&mut buf, line, &cells, raw);
                if buf.len() >= CHUNK {
                    sink.send(buf.split().freeze()).await.with_context(failed)?;
                }
            }
            Err(problems) => {
                tally.add(line, &problems);
                if let Some(rejects) = rejects.as_mut() {
                    rejects.write(&record, header, line, &problems)?;
                }
            }
        }
        if tally.rows.is_multiple_of(PROGRESS_EVERY) {
            bar.set_position(source.read.load(Ordering::Relaxed));
            bar.set_message(format!("{} rows", thousands(tally.rows)));
        }
    }
    if !buf.is_empty() {
        sink.send(buf.freeze()).await.with_context(failed)?;
    }
    sink.as_mut().finish().await.with_context(failed)?;
    bar.set_message("looking for rows with the same key");
    if args.skip_invalid {
        reject_duplicates(plan, tx, &mut tally, rejects).await?;
    } else {
        let (total, first) = plan.first_duplicates(tx).await?;
        tally.bad_rows += total;
        tally.good -= total;
        for duplicate in &first {
            tally.add_one(duplicate.line, &duplicate.problem().to_string());
        }
        tally.more += total - first.len() as u64;
    }
    bar.finish_and_clear();
    Ok(tally)
}

/// With `--skip-invalid`: takes the rows whose key an earlier line has out of the temporary
/// table and into the rejects file, as the file had them.
async fn reject_duplicates(
    plan: &Plan<'_>,
    tx: &Transaction<'_>,
    tally: &mut Tally,
    rejects: &mut Option<Rejects>,
) -> Result<()> {
    let removed = plan.remove_duplicates(tx).await?;
    reject_removed(
        removed,
        "cannot look for rows of the file with the same key",
        tally,
        rejects,
        |row| {
            let duplicate = Duplicate::try_from(row)?;
            Ok((duplicate.line, duplicate.problem(), duplicate.raw))
        },
    )
    .await
}

/// With `--skip-invalid` and `--on-conflict update`: takes the rows keyed by an e-mail that
/// several existing rows have out of the temporary table, into the tally and the rejects file
/// like any other invalid row.
async fn reject_ambiguous(
    plan: &Plan<'_>,
    tx: &Transaction<'_>,
    tally: &mut Tally,
    rejects: &mut Option<Rejects>,
) -> Result<()> {
    let removed = plan.remove_ambiguous(tx).await?;
    reject_removed(
        removed,
        "cannot look for e-mails that several rows have",
        tally,
        rejects,
        |row| {
            let ambiguous = Ambiguous::try_from(row)?;
            Ok((
                ambiguous.line,
                ambiguous.problem(plan.entity),
                ambiguous.raw,
            ))
        },
    )
    .await
}

/// Each row of `removed` (rows taken out of the temporary table), made into its line, problem
/// and the file's fields by `rejected`, counted and written as [`reject_staged`] does.
async fn reject_removed(
    removed: Option<tokio_postgres::RowStream>,
    failed: &'static str,
    tally: &mut Tally,
    rejects: &mut Option<Rejects>,
    rejected: impl Fn(&tokio_postgres::Row) -> Result<(u64, Problem, Option<Vec<u8>>)>,
) -> Result<()> {
    let Some(stream) = removed else {
        return Ok(());
    };
    pin_mut!(stream);
    let mut record = ByteRecord::new();
    while let Some(row) = stream.try_next().await.context(failed)? {
        let (line, problem, raw) = rejected(&row)?;
        reject_staged(tally, rejects, &mut record, line, problem, raw)?;
    }
    Ok(())
}

/// Counts a row taken out of the temporary table as invalid, and writes it to the rejects file
/// as the file had it (`raw`: the plan keeps the file's fields whenever there is one).
fn reject_staged(
    tally: &mut Tally,
    rejects: &mut Option<Rejects>,
    record: &mut ByteRecord,
    line: u64,
    problem: Problem,
    raw: Option<Vec<u8>>,
) -> Result<()> {
    let problems = [problem];
    tally.good -= 1;
    tally.add(line, &problems);
    if let Some(rejects) = rejects.as_mut() {
        RawRow::decode(raw.as_deref().unwrap_or_default(), record)?;
        rejects.write_fields(record.iter(), line, &problems)?;
    }
    Ok(())
}

impl Ambiguous {
    /// `email: twin@example.com matches customers 4 and 5, not one`.
    fn problem(&self, entity: &Table) -> Problem {
        Problem::new(
            "email",
            format!(
                "{} matches {}, not one",
                self.email,
                named_by_id(entity, &self.ids)
            ),
        )
    }
}

impl Duplicate {
    /// `id: 4 is also on line 2`.
    fn problem(&self) -> Problem {
        Problem::new(
            self.column,
            format!("{} is also on line {}", self.key, self.first),
        )
    }
}

/// A row's fields as the file had them (less `_line` and `_error`), as one CSV record: what the
/// temporary table keeps in `_raw` when duplicates may have to go to the rejects file.
struct RawRow {
    buf: Vec<u8>,
}

impl RawRow {
    fn new() -> RawRow {
        RawRow { buf: Vec::new() }
    }

    /// The record's kept fields as CSV, each quoted; valid until the next call.
    fn encode(&mut self, record: &ByteRecord, header: &Header) -> &[u8] {
        self.buf.clear();
        for (i, field) in kept_fields(record, header).enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            self.buf.push(b'"');
            for &byte in field {
                if byte == b'"' {
                    self.buf.push(b'"');
                }
                self.buf.push(byte);
            }
            self.buf.push(b'"');
        }
        &self.buf
    }

    /// The fields [`RawRow::encode`] wrote.
    fn decode(raw: &[u8], record: &mut ByteRecord) -> Result<()> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(raw);
        if !reader
            .read_byte_record(record)
            .context("cannot read back a row for the rejects file")?
        {
            record.clear();
        }
        Ok(())
    }
}

/// The file (or stdin) as CSV records, counting what was read for the progress bar.
struct Source {
    reader: csv::Reader<Input>,
    /// Bytes read so far.
    read: Arc<AtomicU64>,
    /// Where the next row starts; [`Input`] refuses to read far past it.
    row_start: Arc<AtomicU64>,
    /// The file's length, when known.
    len: Option<u64>,
    /// The file as messages name it: its path, or `standard input`.
    name: String,
    /// The line where the last row read starts.
    line: u64,
}

impl Source {
    /// The file, or stdin for `-`; a missing file is exit 3.
    fn open(path: &Path) -> Result<Source> {
        let (inner, len, name): (Box<dyn Read>, _, _) = if path.as_os_str() == "-" {
            (
                Box::new(io::stdin().lock()),
                None,
                "standard input".to_string(),
            )
        } else {
            let file = File::open(path).map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => {
                    error::not_found(format!("{}: no such file", path.display()))
                }
                _ => anyhow::Error::from(e).context(format!("cannot open {}", path.display())),
            })?;
            let len = file
                .metadata()
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len());
            (Box::new(file), len, path.display().to_string())
        };
        let input = Input::new(inner);
        let (read, row_start) = (input.read.clone(), input.row_start.clone());
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(64 * 1024)
            .from_reader(input);
        Ok(Source {
            reader,
            read,
            row_start,
            len,
            name,
            line: 0,
        })
    }

    /// Reads the next record; false at the end. A runaway row is bad input (exit 2) naming the
    /// line where it starts.
    fn next(&mut self, record: &mut ByteRecord) -> Result<bool> {
        let read = self.reader.read_byte_record(record);
        let input = self.reader.get_mut();
        let more = read.map_err(|e| match e.kind() {
            csv::ErrorKind::Io(io) if io.get_ref().is_some_and(|i| i.is::<RowTooLong>()) => {
                error::usage(format!(
                    "line {}: {RowTooLong}; nothing was imported from {}",
                    input.next_row_line().unwrap_or(self.line + 1),
                    self.name
                ))
            }
            _ => anyhow::Error::from(e).context(format!("cannot read {}", self.name)),
        })?;
        if more {
            let csv_line = record.position().map_or(0, |p| p.line());
            self.line = input.row_returned().unwrap_or(csv_line);
        }
        self.row_start
            .store(self.reader.position().byte(), Ordering::Relaxed);
        Ok(more)
    }

    /// Whether the file ended inside a quoted field: the last row read is cut short.
    fn ends_in_open_quote(&self) -> bool {
        self.reader.get_ref().ends_in_open_quote()
    }
}

/// Counts and the first problems, for the listing on stderr.
#[derive(Default)]
struct Tally {
    rows: u64,
    good: u64,
    bad_rows: u64,
    /// The first [`SHOWN`] problems by line, as the line and `column: problem`.
    shown: Vec<(u64, String)>,
    /// Problems past those.
    more: u64,
}

impl Tally {
    fn add(&mut self, line: u64, problems: &[Problem]) {
        self.bad_rows += 1;
        for problem in problems {
            self.add_one(line, &problem.to_string());
        }
    }

    /// Keeps one problem if it is among the first [`SHOWN`] by line (duplicates are found
    /// after the other problems, anywhere in the file), else counts it.
    fn add_one(&mut self, line: u64, problem: &str) {
        if self.shown.len() < SHOWN as usize {
            self.shown.push((line, problem.to_string()));
            return;
        }
        self.more += 1;
        let last = self
            .shown
            .iter()
            .enumerate()
            .max_by_key(|(i, (line, _))| (*line, *i))
            .map(|(i, (line, _))| (i, *line));
        if let Some((i, last_line)) = last
            && line < last_line
        {
            self.shown.remove(i);
            self.shown.push((line, problem.to_string()));
        }
    }

    /// One line on stderr per problem, by line: always when they fail the import, as notices
    /// when the rows were skipped.
    fn print_problems(&self, ctx: &Context, failing: bool) {
        let print = |text: &str| {
            if failing {
                ctx.out.problem(text);
            } else {
                ctx.out.notice(text);
            }
        };
        let mut shown: Vec<&(u64, String)> = self.shown.iter().collect();
        shown.sort_by_key(|(line, _)| *line);
        for (line, problem) in shown {
            print(&format!("line {line}: {problem}"));
        }
        if self.more > 0 {
            print(&format!("... and {} more", thousands(self.more)));
        }
    }
}

/// The invalid rows, as they were in the file, plus `_line` and `_error`.
struct Rejects {
    writer: csv::Writer<Target>,
}

impl Rejects {
    fn create(path: &Path, header: &Header) -> Result<Rejects> {
        let target = Target::create(Some(path))?;
        let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(target);
        let mut first: Vec<&[u8]> = kept_fields(&header.raw, header).collect();
        first.push(LINE_COLUMN.as_bytes());
        first.push(ERROR_COLUMN.as_bytes());
        writer
            .write_record(&first)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Rejects { writer })
    }

    fn write(
        &mut self,
        record: &ByteRecord,
        header: &Header,
        line: u64,
        problems: &[Problem],
    ) -> Result<()> {
        self.write_fields(kept_fields(record, header), line, problems)
    }

    /// A row's kept fields, then its line and problems.
    fn write_fields<'a>(
        &mut self,
        kept: impl Iterator<Item = &'a [u8]>,
        line: u64,
        problems: &[Problem],
    ) -> Result<()> {
        let line = line.to_string();
        let error: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        let error = error.join("; ");
        let mut fields: Vec<&[u8]> = kept.collect();
        fields.push(line.as_bytes());
        fields.push(error.as_bytes());
        self.writer
            .write_record(&fields)
            .context("cannot write the rejects file")?;
        Ok(())
    }

    fn finish(self) -> Result<Written> {
        let target = self
            .writer
            .into_inner()
            .map_err(|e| e.into_error())
            .context("cannot write the rejects file")?;
        target.finish()
    }
}

/// A record's fields less those under an ignored column (`_line`, `_error` of an earlier
/// rejects file); fields past the header's are kept.
fn kept_fields<'a>(record: &'a ByteRecord, header: &'a Header) -> impl Iterator<Item = &'a [u8]> {
    record
        .iter()
        .enumerate()
        .filter_map(|(i, field)| match header.fields.get(i) {
            Some(None) => None,
            _ => Some(field),
        })
}

fn plural(entity: &Table, n: u64) -> &str {
    if n == 1 {
        entity.singular
    } else {
        entity.plural
    }
}

/// Rows keyed by an e-mail that several rows have: which to update is the user's to say.
fn ambiguous_error(
    out: &Output,
    entity: &Table,
    name: &str,
    total: u64,
    first: &[Ambiguous],
) -> anyhow::Error {
    for row in first {
        out.problem(format!("line {}: {}", row.line, row.problem(entity)));
    }
    let shown = first.len() as u64;
    if total > shown {
        out.problem(format!("... and {} more", thousands(total - shown)));
    }
    error::usage(format!(
        "{} {} of {name} {} several {} by e-mail; nothing was imported \
         (give those rows an id column to say which {} they update)",
        thousands(total),
        if total == 1 { "row" } else { "rows" },
        if total == 1 { "matches" } else { "match" },
        entity.plural,
        entity.singular
    ))
}

fn conflict_error(
    out: &Output,
    entity: &Table,
    name: &str,
    conflicts: &Conflicts,
) -> anyhow::Error {
    for (line, column, key) in &conflicts.first {
        let what = match *column {
            "id" => format!("{} {key} already exists", entity.singular),
            _ => format!("a {} with the e-mail {key} already exists", entity.singular),
        };
        out.problem(format!("line {line}: {column}: {what}"));
    }
    let shown = conflicts.first.len() as u64;
    if conflicts.total > shown {
        out.problem(format!(
            "... and {} more",
            thousands(conflicts.total - shown)
        ));
    }
    error::conflict(format!(
        "{} {} of {name} already {}; nothing was imported \
         (--on-conflict skip leaves them as they are, --on-conflict update overwrites them)",
        thousands(conflicts.total),
        plural(entity, conflicts.total),
        if conflicts.total == 1 {
            "exists"
        } else {
            "exist"
        }
    ))
}

/// Rows whose customer's completed orders sum beyond what `totalPurchases` holds: bad data
/// (exit 2) that no file can fix, named by line and customer.
fn beyond_error(out: &Output, name: &str, totals: &TotalsKept) -> anyhow::Error {
    let beyond: Vec<_> = totals.first.iter().filter(|kept| kept.beyond).collect();
    for kept in &beyond {
        let whose = match kept.customer {
            Some(id) => format!("customer {id}'s"),
            None => "the customer's".to_string(),
        };
        out.problem(format!(
            "line {}: totalPurchases: {whose} completed orders sum to {}, more than {MOST_TOTAL} \
             (the most DECIMAL(10,2) holds)",
            kept.line, kept.derived
        ));
    }
    let shown = beyond.len() as u64;
    if totals.beyond > shown {
        out.problem(format!("... and {} more", thousands(totals.beyond - shown)));
    }
    error::usage(format!(
        "{} {} of {name} would set a totalPurchases beyond {MOST_TOTAL}; nothing was imported \
         (`crm db check` lists the customers whose completed orders sum beyond it; an import \
         without the totalPurchases column leaves their totals as they are)",
        thousands(totals.beyond),
        if totals.beyond == 1 { "row" } else { "rows" },
    ))
}

/// Says which rows gave a `totalPurchases` other than their customer's completed orders (the
/// first [`SHOWN`], then how many in all), and that the sums are stored instead.
fn warn_totals(out: &Output, totals: &TotalsKept, dry_run: bool) {
    if totals.total == 0 {
        return;
    }
    let stored = if dry_run { "would store" } else { "stored" };
    for kept in &totals.first {
        let orders = match kept.customer {
            Some(id) => format!("customer {id}'s completed orders sum to {}", kept.derived),
            None => "a new customer has no orders".to_string(),
        };
        out.warn(format!(
            "line {}: totalPurchases: {} given, but {orders}: {stored} {}",
            kept.line,
            kept.given.as_deref().unwrap_or_default(),
            kept.derived
        ));
    }
    let shown = totals.first.len() as u64;
    if totals.total > shown {
        out.warn(format!("... and {} more", thousands(totals.total - shown)));
    }
    out.warn(format!(
        "{} {} a totalPurchases other than the customer's completed orders: crm {stored} the \
         orders' sum, as `crm db check` expects (totalPurchases is derived from the orders)",
        thousands(totals.total),
        if totals.total == 1 {
            "row gives"
        } else {
            "rows give"
        }
    ));
}

fn rejected(tally: &Tally, args: &ImportArgs) -> String {
    match (&args.rejects, tally.bad_rows) {
        (_, 0) => String::new(),
        (Some(path), n) => format!(
            "; {} invalid {} skipped{}",
            thousands(n),
            if n == 1 { "row" } else { "rows" },
            if args.dry_run {
                String::new()
            } else {
                format!(", written to {}", path.display())
            }
        ),
        (None, _) => String::new(),
    }
}

fn dry_run_summary(
    entity: &Table,
    name: &str,
    args: &ImportArgs,
    tally: &Tally,
    conflicts: &Conflicts,
) -> String {
    let existing = match args.on_conflict {
        OnConflict::Error => String::new(),
        OnConflict::Skip => format!(", {} skipped (already there)", thousands(conflicts.total)),
        OnConflict::Update => format!(", {} updated", thousands(conflicts.total)),
    };
    let added = tally.good - conflicts.total;
    format!(
        "dry run: would import {} {} from {name} ({} added{existing}){}; nothing was written",
        thousands(tally.good),
        plural(entity, tally.good),
        thousands(added),
        rejected(tally, args)
    )
}

fn summary(
    entity: &Table,
    name: &str,
    args: &ImportArgs,
    tally: &Tally,
    counts: &Counts,
) -> String {
    let existing = match args.on_conflict {
        OnConflict::Error => String::new(),
        OnConflict::Skip => format!(
            ", {} skipped (already there)",
            thousands(tally.good - counts.added)
        ),
        OnConflict::Update => format!(", {} updated", thousands(counts.updated)),
    };
    let imported = counts.added + counts.updated;
    format!(
        "imported {} {} from {name} ({} added{existing}){}",
        thousands(imported),
        plural(entity, imported),
        thousands(counts.added),
        rejected(tally, args)
    )
}
