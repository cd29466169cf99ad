//! Comparing the live schema with the one crm's migrations make: every difference, each judged
//! `compatible` (crm is known to work with it: the original application's ENUM columns in place
//! of VARCHAR + CHECK, its own index and constraint names, tables that are not crm's) or
//! `drift` (a column dropped or retyped, an index or constraint missing or added by hand).

use super::snapshot::{Column, Constraint, Index, Snapshot};
use rust_decimal::Decimal;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Compatible,
    Drift,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Compatible => "compatible",
            Verdict::Drift => "drift",
        }
    }
}

/// One row of `db schema diff`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// `Users`, `Users.role`, `users_email_idx`, `pg_trgm`.
    pub object: String,
    /// `table`, `column`, `type`, `not null`, `default`, `check`, `unique`, `primary key`,
    /// `foreign key`, `index`, `index name`, `constraint name`, `extension`.
    pub kind: &'static str,
    pub expected: String,
    pub actual: String,
    pub verdict: Verdict,
}

const ABSENT: &str = "absent";

/// Every difference between `expected` (crm's migrations on an empty database) and `actual`.
pub fn compare(expected: &Snapshot, actual: &Snapshot) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut push = |object: String, kind, expected: String, actual: String, verdict| {
        out.push(Difference {
            object,
            kind,
            expected,
            actual,
            verdict,
        })
    };
    for table in expected.tables.difference(&actual.tables) {
        push(
            table.clone(),
            "table",
            "present".into(),
            ABSENT.into(),
            Verdict::Drift,
        );
    }
    for table in actual.tables.difference(&expected.tables) {
        push(
            table.clone(),
            "table",
            ABSENT.into(),
            "present (not crm's: left alone)".into(),
            Verdict::Compatible,
        );
    }
    let shared: BTreeSet<&String> = expected.tables.intersection(&actual.tables).collect();
    let in_shared = |table: &String| shared.contains(table);

    // Columns.
    let mut enum_columns = BTreeSet::new();
    for ((table, name), want) in expected.columns.iter().filter(|((t, _), _)| in_shared(t)) {
        let object = format!("{table}.{name}");
        let Some(have) = actual.columns.get(&(table.clone(), name.clone())) else {
            push(
                object,
                "column",
                want.ty.clone(),
                ABSENT.into(),
                Verdict::Drift,
            );
            continue;
        };
        let enum_compatible = labels_as_enum(expected, table, name, want, have);
        if want.ty != have.ty {
            match &enum_compatible {
                Some(labels) => {
                    enum_columns.insert((table.clone(), name.clone()));
                    push(
                        object.clone(),
                        "type",
                        format!("{} CHECK ({labels})", want.ty),
                        format!("{} ENUM ({labels})", have.ty),
                        Verdict::Compatible,
                    );
                }
                None => push(
                    object.clone(),
                    "type",
                    want.ty.clone(),
                    have.ty.clone(),
                    Verdict::Drift,
                ),
            }
        }
        if want.not_null != have.not_null {
            let says = |not_null: bool| if not_null { "NOT NULL" } else { "NULL allowed" };
            push(
                object.clone(),
                "not null",
                says(want.not_null).into(),
                says(have.not_null).into(),
                Verdict::Drift,
            );
        }
        if !same_default(want.default.as_deref(), have.default.as_deref()) {
            push(
                object,
                "default",
                want.default.clone().unwrap_or_else(|| "none".into()),
                have.default.clone().unwrap_or_else(|| "none".into()),
                Verdict::Drift,
            );
        }
    }
    for ((table, name), have) in actual.columns.iter().filter(|((t, _), _)| in_shared(t)) {
        if expected
            .columns
            .contains_key(&(table.clone(), name.clone()))
        {
            continue;
        }
        // crm names the columns it writes: one it does not know is harmless unless a row
        // cannot be written without it.
        let verdict = match have.not_null && have.default.is_none() {
            true => Verdict::Drift,
            false => Verdict::Compatible,
        };
        push(
            format!("{table}.{name}"),
            "column",
            ABSENT.into(),
            have.ty.clone(),
            verdict,
        );
    }

    // Constraints, matched by table, kind and definition; their names may differ.
    let wanted: Vec<&Constraint> = expected
        .constraints
        .iter()
        .filter(|c| in_shared(&c.table))
        .collect();
    let had: Vec<&Constraint> = actual
        .constraints
        .iter()
        .filter(|c| in_shared(&c.table))
        .collect();
    let mut used = vec![false; had.len()];
    let mut unmatched = Vec::new();
    for want in &wanted {
        let found = take_match(&had, &mut used, |have| {
            have.table == want.table && have.kind == want.kind && have.definition == want.definition
        });
        match found {
            Some(i) => {
                if had[i].name != want.name {
                    push(
                        format!("{}.{}", want.table, want.name),
                        "constraint name",
                        want.name.clone(),
                        had[i].name.clone(),
                        Verdict::Compatible,
                    );
                }
            }
            None => unmatched.push(*want),
        }
    }
    for want in unmatched {
        let object = format!("{}.{}", want.table, want.name);
        // The CHECK that an ENUM column replaces.
        if want.kind == "check"
            && let [column] = want.columns.as_slice()
            && enum_columns.contains(&(want.table.clone(), column.clone()))
        {
            let ty = &actual.columns[&(want.table.clone(), column.clone())].ty;
            push(
                object,
                "check",
                want.definition.clone(),
                format!("the ENUM type {ty} allows the same values"),
                Verdict::Compatible,
            );
            continue;
        }
        // A foreign key of the same columns and target with other rules.
        let same_columns = take_match(&had, &mut used, |have| {
            have.table == want.table
                && have.kind == want.kind
                && have.columns == want.columns
                && (want.kind != "foreign key" || references(have) == references(want))
        });
        if let Some(i) = same_columns {
            push(
                object,
                want.kind,
                want.definition.clone(),
                had[i].definition.clone(),
                Verdict::Drift,
            );
            continue;
        }
        push(
            object,
            want.kind,
            want.definition.clone(),
            ABSENT.into(),
            Verdict::Drift,
        );
    }
    for (have, _) in had.iter().zip(&used).filter(|(_, used)| !**used) {
        push(
            format!("{}.{}", have.table, have.name),
            have.kind,
            ABSENT.into(),
            have.definition.clone(),
            // A constraint crm does not know may refuse the rows it writes.
            Verdict::Drift,
        );
    }

    // Indexes, matched by definition; then, for the ENUM columns, by definition without casts.
    let wanted: Vec<&Index> = expected
        .indexes
        .iter()
        .filter(|x| in_shared(&x.table))
        .collect();
    let had: Vec<&Index> = actual
        .indexes
        .iter()
        .filter(|x| in_shared(&x.table))
        .collect();
    let mut used = vec![false; had.len()];
    let mut unmatched = Vec::new();
    for want in &wanted {
        let found = take_match(&had, &mut used, |have| have.definition == want.definition);
        match found {
            Some(i) => {
                if had[i].name != want.name {
                    push(
                        want.name.clone(),
                        "index name",
                        want.name.clone(),
                        had[i].name.clone(),
                        Verdict::Compatible,
                    );
                }
            }
            None => unmatched.push(*want),
        }
    }
    for want in unmatched {
        let loose = take_match(&had, &mut used, |have| {
            loosen(&have.definition) == loosen(&want.definition)
        });
        match loose {
            Some(i) => {
                push(
                    want.name.clone(),
                    "index",
                    want.definition.clone(),
                    had[i].definition.clone(),
                    Verdict::Compatible,
                );
            }
            None => push(
                want.name.clone(),
                "index",
                want.definition.clone(),
                ABSENT.into(),
                Verdict::Drift,
            ),
        }
    }
    for (i, have) in had.iter().enumerate() {
        if used[i] {
            continue;
        }
        // An extra index costs writes but changes no result, unless it refuses rows.
        let verdict = match have.unique {
            true => Verdict::Drift,
            false => Verdict::Compatible,
        };
        push(
            have.name.clone(),
            "index",
            ABSENT.into(),
            have.definition.clone(),
            verdict,
        );
    }

    for extension in expected.extensions.difference(&actual.extensions) {
        push(
            extension.clone(),
            "extension",
            "installed".into(),
            ABSENT.into(),
            Verdict::Drift,
        );
    }
    for extension in actual.extensions.difference(&expected.extensions) {
        push(
            extension.clone(),
            "extension",
            ABSENT.into(),
            "installed".into(),
            Verdict::Compatible,
        );
    }
    out
}

/// The first of `had` not yet `used` that is `same`, marked used.
fn take_match<T>(had: &[&T], used: &mut [bool], same: impl Fn(&T) -> bool) -> Option<usize> {
    let i = (0..had.len()).find(|&i| !used[i] && same(had[i]))?;
    used[i] = true;
    Some(i)
}

/// `Some("admin, staff")` when `want` is a text column whose one-column CHECK allows exactly
/// the labels of the ENUM type `have` has: the original application's way of writing it.
fn labels_as_enum(
    expected: &Snapshot,
    table: &str,
    column: &str,
    want: &Column,
    have: &Column,
) -> Option<String> {
    let labels = have.enum_labels.as_ref()?;
    if !(want.ty.starts_with("character varying") || want.ty == "text") {
        return None;
    }
    let check = expected.constraints.iter().find(|c| {
        c.table == table && c.kind == "check" && c.columns.len() == 1 && c.columns[0] == column
    })?;
    let allowed: BTreeSet<String> = quoted_strings(&check.definition).into_iter().collect();
    let have_set: BTreeSet<String> = labels.iter().cloned().collect();
    (allowed == have_set).then(|| labels.join(", "))
}

/// The referenced table and columns of a foreign key's definition.
fn references(constraint: &Constraint) -> Option<&str> {
    let def = &constraint.definition;
    let at = def.find(" REFERENCES ")?;
    let rest = &def[at..];
    Some(rest.find(')').map_or(rest, |end| &rest[..=end]))
}

/// Whether two default expressions mean the same value: equal once casts are taken out, or
/// the same number written differently (`0` and `0.00`).
fn same_default(want: Option<&str>, have: Option<&str>) -> bool {
    match (want, have) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let (a, b) = (loosen(a), loosen(b));
            if a == b {
                return true;
            }
            match (a.trim().parse::<Decimal>(), b.trim().parse::<Decimal>()) {
                (Ok(x), Ok(y)) => x == y,
                _ => false,
            }
        }
        _ => false,
    }
}

/// The single-quoted literals of an expression, unescaped (`''` is `'`).
fn quoted_strings(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut literal = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    literal.push('\'');
                } else {
                    break;
                }
            } else {
                literal.push(c);
            }
        }
        out.push(literal);
    }
    out
}

/// An expression with its casts (`::text`, `::character varying`, `::"enum_Orders_status"`,
/// `::public."enum_Orders_status"[]`) and parentheses taken out, string literals untouched:
/// how an expression over an ENUM column and the same over a VARCHAR compare.
pub fn loosen(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // A literal, copied whole.
            out.push(c);
            i += 1;
            while i < chars.len() {
                out.push(chars[i]);
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        out.push('\'');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
            continue;
        }
        if c == ':' && chars.get(i + 1) == Some(&':') {
            i = skip_type(&chars, i + 2);
            continue;
        }
        if c != '(' && c != ')' {
            out.push(c);
        }
        i += 1;
    }
    out
}

/// The position after a type name starting at `i`.
fn skip_type(chars: &[char], mut i: usize) -> usize {
    let word = |i: usize| -> (String, usize) {
        let mut j = i;
        if chars.get(j) == Some(&'"') {
            j += 1;
            while j < chars.len() {
                if chars[j] == '"' {
                    if chars.get(j + 1) == Some(&'"') {
                        j += 2;
                        continue;
                    }
                    j += 1;
                    break;
                }
                j += 1;
            }
        } else {
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
        }
        (chars[i..j].iter().collect(), j)
    };
    let (first, mut j) = word(i);
    if chars.get(j) == Some(&'.') {
        // schema.type
        let (_, k) = word(j + 1);
        j = k;
    } else {
        let multi: &[&[&str]] = &[
            &["character", "varying"],
            &["double", "precision"],
            &["timestamp", "with", "time", "zone"],
            &["timestamp", "without", "time", "zone"],
            &["time", "with", "time", "zone"],
            &["time", "without", "time", "zone"],
        ];
        for words in multi {
            if words[0] != first {
                continue;
            }
            let mut k = j;
            let mut all = true;
            for w in &words[1..] {
                let rest: String = chars.get(k..).map_or(String::new(), |r| r.iter().collect());
                let want = format!(" {w}");
                if rest.starts_with(&want) {
                    k += want.len();
                } else {
                    all = false;
                    break;
                }
            }
            if all {
                j = k;
                break;
            }
        }
    }
    i = j;
    // (n) or (n,m)
    if chars.get(i) == Some(&'(') {
        let mut k = i + 1;
        while k < chars.len() && (chars[k].is_ascii_digit() || chars[k] == ',' || chars[k] == ' ') {
            k += 1;
        }
        if chars.get(k) == Some(&')') {
            i = k + 1;
        }
    }
    while chars.get(i) == Some(&'[') && chars.get(i + 1) == Some(&']') {
        i += 2;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_and_parentheses_go_literals_stay() {
        assert_eq!(
            loosen(
                r#"CREATE INDEX ON public."Orders" USING btree ("createdAt") WHERE ((status)::text = 'pending'::text)"#
            ),
            loosen(
                r#"CREATE INDEX ON public."Orders" USING btree ("createdAt") WHERE (status = 'pending'::"enum_Orders_status")"#
            ),
        );
        assert_eq!(loosen("'a::b (c)'::character varying"), "'a::b (c)'");
        assert_eq!(loosen("'it''s'::public.\"e\"\"x\"[]"), "'it''s'");
        assert_ne!(loosen("status = 'pending'"), loosen("status = 'completed'"));
    }

    #[test]
    fn defaults_compare_by_value() {
        assert!(same_default(Some("0.00"), Some("0")));
        assert!(same_default(
            Some("'staff'::character varying"),
            Some("'staff'::\"enum_Users_role\"")
        ));
        assert!(!same_default(
            Some("'staff'::character varying"),
            Some("'admin'::character varying")
        ));
        assert!(!same_default(Some("0"), None));
    }

    #[test]
    fn the_labels_of_a_check_are_its_literals() {
        assert_eq!(
            quoted_strings(
                "CHECK (((role)::text = ANY ((ARRAY['admin'::character varying, 'it''s'::character varying])::text[])))"
            ),
            vec!["admin".to_string(), "it's".to_string()]
        );
    }
}
