//! Property tests of the import's reading and checking: any bytes, as a file or as the fields of
//! a row, never panic; a row of valid values, written as any CSV writer would (either line
//! ending, quotes where needed, columns in any order and case), always passes with exactly its
//! values, and renders for COPY so that they come back unchanged; one invalid value in a file
//! is always reported for its column and its line, and nothing else is.

use super::*;
use crate::commands::customers::TABLE as CUSTOMERS;
use crate::commands::products::TABLE as PRODUCTS;
use proptest::prelude::*;
use time::UtcOffset;

fn entity(products: bool) -> &'static Table {
    if products { &PRODUCTS } else { &CUSTOMERS }
}

/// Reads `bytes` as import does: through [`Input`], with the same reader settings. Each record
/// with the line [`Input`] says it starts on; the flag says whether the file ends in an open
/// quote. Panics if [`Input`] counts rows otherwise than the reader.
fn read_all(bytes: Vec<u8>) -> (Vec<(u64, ByteRecord)>, bool) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(64 * 1024)
        .from_reader(Input::new(Box::new(io::Cursor::new(bytes))));
    let mut records = Vec::new();
    let mut record = ByteRecord::new();
    while let Ok(true) = reader.read_byte_record(&mut record) {
        let line = reader
            .get_mut()
            .row_returned()
            .expect("a line for every row");
        records.push((line, record.clone()));
    }
    // Input saw as many rows start as the reader returned: its idea of rows is the reader's.
    assert_eq!(
        reader.get_ref().next_row_line(),
        None,
        "a row the reader did not return"
    );
    (records, reader.get_ref().ends_in_open_quote())
}

/// A valid value for a column of `kind`, as a file would carry it, and the cell it must give.
fn valid(kind: ColumnKind) -> BoxedStrategy<(String, Cell)> {
    match kind {
        ColumnKind::Id => (1..=i32::MAX, " {0,2}")
            .prop_map(|(n, pad)| (format!("{pad}{n}{pad}"), Cell::Int(n)))
            .boxed(),
        ColumnKind::Stock => (0..=i32::MAX)
            .prop_map(|n| (n.to_string(), Cell::Int(n)))
            .boxed(),
        ColumnKind::Text => {
            prop_oneof!["[^\u{0}]{0,40}", "[^\u{0}]{255}", "[=+@\t-][^\u{0}]{0,20}",]
                .prop_map(|s| {
                    let cell = if s.is_empty() {
                        Cell::Null
                    } else {
                        Cell::Text(s.clone())
                    };
                    (s, cell)
                })
                .boxed()
        }
        ColumnKind::Name => prop_oneof!["[^\u{0}]{0,40}", "[^\u{0}]{255}"]
            .prop_filter("not blank", |s| !s.trim().is_empty())
            .prop_map(|s| (s.clone(), Cell::Text(s)))
            .boxed(),
        ColumnKind::LongText => "[^\u{0}]{0,400}"
            .prop_map(|s| {
                let cell = if s.is_empty() {
                    Cell::Null
                } else {
                    Cell::Text(s.clone())
                };
                (s, cell)
            })
            .boxed(),
        ColumnKind::Email => (
            "[A-Za-z0-9._%+=-]{1,20}",
            "[A-Za-z0-9-]{1,20}",
            "[A-Za-z]{2,6}",
            " {0,2}",
        )
            .prop_map(|(local, domain, top, pad)| {
                let email = format!("{local}@{domain}.{top}");
                let cell = Cell::Text(email.to_lowercase());
                (format!("{pad}{email}{pad}"), cell)
            })
            .boxed(),
        ColumnKind::Phone => "[+(]?[0-9][0-9 ().-]{0,15}[0-9]( x[0-9]{1,4})?"
            .prop_map(|s| (s.clone(), Cell::Text(s)))
            .boxed(),
        ColumnKind::Money => (0..=9_999_999_999i64, any::<bool>())
            .prop_map(|(cents, short)| {
                let amount = Decimal::new(cents, 2);
                let text = if short && cents % 100 == 0 {
                    (cents / 100).to_string()
                } else {
                    amount.to_string()
                };
                (text, Cell::Money(amount))
            })
            .boxed(),
        ColumnKind::Time => (0..4_102_444_800i64, 0..1_000_000u32, -12 * 60..=14 * 60i32)
            .prop_map(|(seconds, micros, minutes)| {
                let utc = OffsetDateTime::from_unix_timestamp(seconds)
                    .expect("in range")
                    .replace_microsecond(micros)
                    .expect("in range");
                let offset = UtcOffset::from_whole_seconds(minutes * 60).expect("in range");
                let text = utc.to_offset(offset).format(&Rfc3339).expect("formats");
                (text, Cell::Time(utc))
            })
            .boxed(),
        ColumnKind::Reference | ColumnKind::Integer | ColumnKind::Count | ColumnKind::Label => {
            unreachable!("import takes no {kind:?} column: it has no valid value")
        }
    }
}

/// A value that a column of `kind` (required or not) must refuse.
fn invalid(kind: ColumnKind, required: bool) -> BoxedStrategy<String> {
    let bad = match kind {
        ColumnKind::Id => prop_oneof![
            Just("0".to_string()),
            "-[1-9][0-9]{0,5}",
            "[a-z]{1,5}",
            "[1-9][0-9]{0,3}\\.[0-9]{1,2}",
            "[3-9][0-9]{9}",
        ]
        .boxed(),
        ColumnKind::Stock => prop_oneof![
            "-[1-9][0-9]{0,5}",
            "[a-z]{1,5}",
            "[0-9]{1,3}\\.[0-9]{0,2}[1-9]",
            "[3-9][0-9]{9}",
            "@SUM\\([A-Z][0-9]\\)",
        ]
        .boxed(),
        ColumnKind::Text => prop_oneof!["[a-z]{256,300}", "[a-z]{0,5}\u{0}[a-z]{0,5}"].boxed(),
        ColumnKind::Name => {
            prop_oneof!["[ \t]{1,4}", "[a-z]{256,300}", "[a-z]{0,5}\u{0}[a-z]{0,5}"].boxed()
        }
        ColumnKind::LongText => "[^\u{0}]{0,20}\u{0}[^\u{0}]{0,20}".boxed(),
        ColumnKind::Email => prop_oneof![
            "[a-z]{1,10}",
            "[a-z]{1,5}@@[a-z]{1,5}\\.[a-z]{2}",
            "[a-z]{1,5}@[a-z]{1,5}",
            "[a-z]{1,5} [a-z]{1,5}@[a-z]{1,5}\\.[a-z]{2}",
            "=cmd\\|' /C calc'!A0",
        ]
        .boxed(),
        ColumnKind::Phone => {
            prop_oneof!["[a-dfgh-su-wyz]{1,6}", "[0-9]{1,5}[a-dfgh-su-wyz#*]"].boxed()
        }
        ColumnKind::Money => prop_oneof![
            "-[1-9][0-9]{0,3}\\.[0-9]{2}",
            "[0-9]{1,3}\\.[0-9]{2}[1-9]",
            "[a-z]{1,5}",
            "1[0-9]{8}\\.[0-9]{2}",
            "[1-9]e[1-3]",
            "=[0-9]\\+[0-9]",
        ]
        .boxed(),
        ColumnKind::Time => prop_oneof![
            "[a-z]{1,8}",
            Just("2025-13-01".to_string()),
            Just("2025-02-30".to_string()),
            "2025-07-01T2[4-9]:00:00Z",
        ]
        .boxed(),
        // Import refuses any value in a column of an export-only kind.
        ColumnKind::Reference | ColumnKind::Integer | ColumnKind::Count | ColumnKind::Label => {
            "[a-z0-9]{1,5}".boxed()
        }
    };
    if required {
        prop_oneof![1 => Just(String::new()), 5 => bad].boxed()
    } else {
        bad
    }
}

/// A header for `entity`: the required columns and any others, in any order, each in its own
/// case, as indexes in `entity.columns` with the names as written.
fn header(entity: &'static Table) -> impl Strategy<Value = Vec<(usize, String)>> {
    let n = entity.columns.len();
    (
        proptest::collection::vec(any::<bool>(), n),
        proptest::collection::vec(any::<bool>(), n),
    )
        .prop_flat_map(move |(keep, upper)| {
            let columns: Vec<(usize, String)> = (0..n)
                .filter(|i| keep[*i] || entity.columns[*i].required)
                .map(|i| {
                    let name = entity.columns[i].name;
                    let name = if upper[i] {
                        name.to_uppercase()
                    } else {
                        name.to_string()
                    };
                    (i, name)
                })
                .collect();
            Just(columns).prop_shuffle()
        })
        .prop_filter("a column at least", |columns| !columns.is_empty())
}

/// Valid rows for the header: each field's text and the cell it must give.
fn rows(
    entity: &'static Table,
    header: &[(usize, String)],
    count: std::ops::Range<usize>,
) -> impl Strategy<Value = Vec<Vec<(String, Cell)>>> + use<> {
    let row: Vec<_> = header
        .iter()
        .map(|(i, _)| valid(entity.columns[*i].kind))
        .collect();
    proptest::collection::vec(row, count)
}

/// The file's bytes, and the line each row starts on, written by the csv crate's writer.
fn write_file(header: &[(usize, String)], rows: &[Vec<String>], crlf: bool) -> (Vec<u8>, Vec<u64>) {
    let terminator = if crlf {
        csv::Terminator::CRLF
    } else {
        csv::Terminator::Any(b'\n')
    };
    let mut writer = csv::WriterBuilder::new()
        .terminator(terminator)
        .from_writer(Vec::new());
    writer
        .write_record(header.iter().map(|(_, name)| name))
        .unwrap();
    let mut lines = Vec::new();
    for row in rows {
        writer.flush().unwrap();
        let line = 1 + writer.get_ref().iter().filter(|b| **b == b'\n').count() as u64;
        lines.push(line);
        writer.write_record(row).unwrap();
    }
    (writer.into_inner().unwrap(), lines)
}

/// The cells of a header's columns in the entity's order, as [`check_row`] gives them.
fn in_entity_order(header: &[(usize, String)], row: &[(String, Cell)]) -> Vec<Cell> {
    let mut pairs: Vec<(usize, Cell)> = header
        .iter()
        .zip(row)
        .map(|((i, _), (_, cell))| (*i, cell.clone()))
        .collect();
    pairs.sort_by_key(|(i, _)| *i);
    pairs.into_iter().map(|(_, cell)| cell).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..1024),
        csvish in "([a-zA-Z\",\r\n\u{0} ]|id|name|price|email|stock|\"\"){0,60}",
        products in any::<bool>(),
    ) {
        let entity = entity(products);
        for bytes in [bytes, csvish.into_bytes()] {
            let (records, _) = read_all(bytes);
            let Some(((_, first), rest)) = records.split_first() else { continue };
            let Ok(header) = Header::parse(entity, first) else { continue };
            let mut buf = BytesMut::new();
            for (line, record) in rest {
                let _ = open_quote_problem(entity, &header);
                if let Ok(cells) = check_row(entity, &header, record) {
                    prop_assert_eq!(cells.len(), header.present.len());
                    render(&mut buf, *line, &cells, None);
                }
            }
        }
    }

    #[test]
    fn arbitrary_fields_under_a_valid_header_never_panic(
        (products, header, fields) in any::<bool>().prop_flat_map(|products| {
            let entity = entity(products);
            (Just(products), header(entity), proptest::collection::vec(
                prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..40),
                    any::<String>().prop_map(String::into_bytes),
                    "[ 0-9.eE+:TZ-]{0,30}".prop_map(String::into_bytes),
                ],
                0..12,
            ))
        }),
    ) {
        let entity = entity(products);
        let names: Vec<&str> = header.iter().map(|(_, name)| name.as_str()).collect();
        let header = Header::parse(entity, &ByteRecord::from(names)).unwrap();
        match check_row(entity, &header, &ByteRecord::from(fields)) {
            Ok(cells) => prop_assert_eq!(cells.len(), header.present.len()),
            Err(problems) => prop_assert!(!problems.is_empty()),
        }
    }

    #[test]
    fn valid_rows_always_pass_with_their_values_and_render_them_unchanged(
        (products, header, rows, crlf) in any::<bool>().prop_flat_map(|products| {
            let entity = entity(products);
            header(entity).prop_flat_map(move |header| {
                let rows = rows(entity, &header, 1..5);
                (Just(products), Just(header), rows, any::<bool>())
            })
        }),
    ) {
        let entity = entity(products);
        let texts: Vec<Vec<String>> = rows
            .iter()
            .map(|row| row.iter().map(|(text, _)| text.clone()).collect())
            .collect();
        let (bytes, lines) = write_file(&header, &texts, crlf);
        let (records, open) = read_all(bytes);
        prop_assert!(!open);
        prop_assert_eq!(records.len(), rows.len() + 1);
        let parsed = Header::parse(entity, &records[0].1).unwrap();
        for ((row, (line, record)), expected_line) in rows.iter().zip(&records[1..]).zip(&lines) {
            prop_assert_eq!(line, expected_line);
            let expected = in_entity_order(&header, row);
            let cells = check_row(entity, &parsed, record);
            prop_assert_eq!(cells.as_ref(), Ok(&expected));

            // What COPY is sent reads back as the same values.
            let mut buf = BytesMut::new();
            render(&mut buf, *line, &expected, None);
            let mut copy = csv::ReaderBuilder::new().has_headers(false).from_reader(&buf[..]);
            let sent = copy.records().next().unwrap().unwrap();
            prop_assert_eq!(sent.len(), expected.len() + 1);
            let number = line.to_string();
            prop_assert_eq!(&sent[0], number.as_str());
            for (field, cell) in sent.iter().skip(1).zip(&expected) {
                let want = match cell {
                    Cell::Null => String::new(),
                    Cell::Int(n) => n.to_string(),
                    Cell::Text(s) => s.clone(),
                    Cell::Money(d) => format!("{d:.2}"),
                    Cell::Time(t) => rfc3339_utc(*t),
                };
                prop_assert_eq!(field, want.as_str());
            }
        }
    }

    #[test]
    fn one_invalid_value_is_reported_for_its_column_and_line_only(
        (products, header, rows, bad_row, bad_column, bad, crlf) in any::<bool>().prop_flat_map(|products| {
            let entity = entity(products);
            header(entity).prop_flat_map(move |header| {
                let n = header.len();
                (rows(entity, &header, 1..5), 0..n).prop_flat_map(move |(rows, column)| {
                    let spec = &entity.columns[header[column].0];
                    (
                        Just(products),
                        Just(header.clone()),
                        Just(rows.clone()),
                        0..rows.len(),
                        Just(column),
                        invalid(spec.kind, spec.required),
                        any::<bool>(),
                    )
                })
            })
        }),
    ) {
        let entity = entity(products);
        let mut texts: Vec<Vec<String>> = rows
            .iter()
            .map(|row| row.iter().map(|(text, _)| text.clone()).collect())
            .collect();
        texts[bad_row][bad_column] = bad.clone();
        let (bytes, lines) = write_file(&header, &texts, crlf);
        let (records, _) = read_all(bytes);
        let parsed = Header::parse(entity, &records[0].1).unwrap();
        let column = entity.columns[header[bad_column].0].name;
        for (i, (line, record)) in records[1..].iter().enumerate() {
            prop_assert_eq!(*line, lines[i]);
            let checked = check_row(entity, &parsed, record);
            if i == bad_row {
                let problems = checked.expect_err("the invalid value is refused");
                prop_assert_eq!(problems.len(), 1, "{:?}", problems);
                prop_assert_eq!(problems[0].column, column, "{:?} for {:?}", problems, bad);
            } else {
                prop_assert!(checked.is_ok(), "{:?}", checked);
            }
        }
    }
}

#[test]
fn the_invalid_generators_edges_are_invalid() {
    // The invalid generators must not produce valid values by accident: spot checks.
    let column = |kind| Column {
        name: "x",
        kind,
        required: false,
    };
    for (kind, text) in [
        (ColumnKind::Id, "2147483648"),
        (ColumnKind::Stock, "3000000000"),
        (ColumnKind::Money, "100000000.00"),
        (ColumnKind::Phone, "12#"),
    ] {
        assert!(check_value(&column(kind), text).is_err(), "{kind:?} {text}");
    }
}

proptest! {
    /// The database refuses more than 255 characters in a VARCHAR(255) column, so what a check
    /// lets through (after trimming or lower-casing) must fit, or the import fails at the very
    /// end with the server's error instead of naming the line.
    #[test]
    fn what_a_varchar_column_accepts_fits_in_it(
        text in "[a-zA-Z0-9 İẞ]{1,260}",
        local in "[a-zA-Z0-9İẞ]{1,252}",
        domain in "[a-zA-Zİ]{1,3}",
    ) {
        let email = format!("{local}@{domain}.io");
        for (kind, value) in [
            (ColumnKind::Text, text.as_str()),
            (ColumnKind::Name, text.as_str()),
            (ColumnKind::Phone, text.as_str()),
            (ColumnKind::Email, email.as_str()),
        ] {
            let column = Column { name: "x", kind, required: false };
            if let Ok(Cell::Text(stored)) = check_value(&column, value) {
                let chars = stored.chars().count();
                prop_assert!(chars <= validate::MAX_TEXT, "{kind:?} {value:?} stored as {chars} characters");
            }
        }
    }
}
