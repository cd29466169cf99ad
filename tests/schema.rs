//! The schema `crm db migrate` builds, checked against the reference document
//! (`gemini-crm-database.md`, "Database Schema" and "Database Indexes") through PostgreSQL's own
//! catalog, never by re-reading our migration files; and the way back with `crm db migrate undo`.
//!
//! Every expectation below was written by hand from the reference's DDL, in the form in which
//! PostgreSQL 15 reports that DDL (`information_schema`, `pg_get_constraintdef`, `pg_indexes`).

use crate::harness::{TABLES, TestDb, server};
use std::path::Path;
use std::process::Command;

/// crm's bookkeeping table, the one table besides the reference's.
const HISTORY: &str = "refinery_schema_history";

/// crm's record of the seeds it loaded (V11), the other table of crm's own.
const SEED_HISTORY: &str = "crm_seed_history";

/// crm's record of customer merges (V14), for `customers merge undo`.
const MERGES: &str = "crm_customer_merges";

/// The migrations, in version order.
const MIGRATIONS: [(i32, &str); 15] = [
    (1, "create_users"),
    (2, "create_customers"),
    (3, "create_products"),
    (4, "create_orders"),
    (5, "create_order_items"),
    (6, "create_notifications"),
    (7, "create_user_notifications"),
    (8, "create_notification_preferences"),
    (9, "performance_indexes"),
    (10, "search_indexes"),
    (11, "create_seed_history"),
    (12, "notification_inbox_index"),
    (13, "customer_match_keys"),
    (14, "create_customer_merges"),
    (15, "customer_name_sort_index"),
];

const VARCHAR: &str = "character varying(255)";
const TEXT: &str = "text";
const INT: &str = "integer";
const MONEY: &str = "numeric(10,2)";
const TSTZ: &str = "timestamp with time zone";
const BOOL: &str = "boolean";
const JSONB: &str = "jsonb";

/// `(column, type, nullable, default)` of one table, in ordinal order.
type Columns = &'static [(&'static str, &'static str, bool, Option<&'static str>)];

/// `SERIAL PRIMARY KEY` followed by the table's own columns and Sequelize's two timestamps.
fn expected_columns(table: &str) -> Vec<(String, String, bool, Option<String>)> {
    let own: Columns = match table {
        "Users" => &[
            ("firstName", VARCHAR, false, None),
            ("lastName", VARCHAR, false, None),
            ("email", VARCHAR, false, None),
            ("password", VARCHAR, false, None),
            ("role", VARCHAR, true, Some("'staff'::character varying")),
        ],
        "Customers" => &[
            ("firstName", VARCHAR, true, None),
            ("lastName", VARCHAR, true, None),
            ("email", VARCHAR, true, None),
            ("phone", VARCHAR, true, None),
            ("address", TEXT, true, None),
            ("totalPurchases", MONEY, true, Some("0.00")),
        ],
        "Products" => &[
            ("name", VARCHAR, false, None),
            ("description", TEXT, true, None),
            ("price", MONEY, false, None),
            ("stock", INT, true, Some("0")),
            ("category", VARCHAR, true, None),
            ("image", VARCHAR, true, None),
        ],
        "Orders" => &[
            ("customerId", INT, true, None),
            ("createdBy", INT, true, None),
            (
                "status",
                VARCHAR,
                true,
                Some("'pending'::character varying"),
            ),
            ("total", MONEY, false, None),
            ("notes", TEXT, true, None),
        ],
        "OrderItems" => &[
            ("orderId", INT, true, None),
            ("productId", INT, true, None),
            ("quantity", INT, false, None),
            ("price", MONEY, false, None),
        ],
        "Notifications" => &[
            ("type", VARCHAR, false, None),
            ("title", VARCHAR, false, None),
            ("message", TEXT, false, None),
            ("data", JSONB, true, None),
            (
                "priority",
                VARCHAR,
                true,
                Some("'medium'::character varying"),
            ),
            ("createdBy", INT, true, None),
        ],
        "UserNotifications" => &[
            ("userId", INT, true, None),
            ("notificationId", INT, true, None),
            ("isRead", BOOL, true, Some("false")),
            ("readAt", TSTZ, true, None),
        ],
        "NotificationPreferences" => &[
            ("userId", INT, true, None),
            ("notificationType", VARCHAR, false, None),
            ("enabled", BOOL, true, Some("true")),
            ("emailEnabled", BOOL, true, Some("false")),
        ],
        other => panic!("the reference has no table {other}"),
    };
    let id_default = format!(r#"nextval('"{table}_id_seq"'::regclass)"#);
    let mut columns = vec![("id".to_string(), INT.to_string(), false, Some(id_default))];
    columns.extend(own.iter().map(|(name, ty, nullable, default)| {
        (
            name.to_string(),
            ty.to_string(),
            *nullable,
            default.map(str::to_string),
        )
    }));
    for timestamp in ["createdAt", "updatedAt"] {
        columns.push((timestamp.to_string(), TSTZ.to_string(), false, None));
    }
    columns
}

/// `(table, constraint, kind, pg_get_constraintdef)`: every primary key, unique, check and
/// foreign key constraint, with the names PostgreSQL gives the reference's inline constraints.
const CONSTRAINTS: &[(&str, &str, &str, &str)] = &[
    ("Customers", "Customers_pkey", "p", "PRIMARY KEY (id)"),
    (
        "NotificationPreferences",
        "NotificationPreferences_pkey",
        "p",
        "PRIMARY KEY (id)",
    ),
    (
        "NotificationPreferences",
        "NotificationPreferences_userId_fkey",
        "f",
        r#"FOREIGN KEY ("userId") REFERENCES "Users"(id) ON DELETE CASCADE"#,
    ),
    (
        "Notifications",
        "Notifications_createdBy_fkey",
        "f",
        r#"FOREIGN KEY ("createdBy") REFERENCES "Users"(id) ON DELETE SET NULL"#,
    ),
    (
        "Notifications",
        "Notifications_pkey",
        "p",
        "PRIMARY KEY (id)",
    ),
    (
        "Notifications",
        "Notifications_priority_check",
        "c",
        "CHECK (((priority)::text = ANY ((ARRAY['low'::character varying, \
         'medium'::character varying, 'high'::character varying])::text[])))",
    ),
    (
        "OrderItems",
        "OrderItems_orderId_fkey",
        "f",
        r#"FOREIGN KEY ("orderId") REFERENCES "Orders"(id) ON DELETE CASCADE"#,
    ),
    ("OrderItems", "OrderItems_pkey", "p", "PRIMARY KEY (id)"),
    (
        "OrderItems",
        "OrderItems_productId_fkey",
        "f",
        r#"FOREIGN KEY ("productId") REFERENCES "Products"(id) ON DELETE SET NULL"#,
    ),
    (
        "Orders",
        "Orders_createdBy_fkey",
        "f",
        r#"FOREIGN KEY ("createdBy") REFERENCES "Users"(id) ON DELETE SET NULL"#,
    ),
    (
        "Orders",
        "Orders_customerId_fkey",
        "f",
        r#"FOREIGN KEY ("customerId") REFERENCES "Customers"(id) ON DELETE SET NULL"#,
    ),
    ("Orders", "Orders_pkey", "p", "PRIMARY KEY (id)"),
    (
        "Orders",
        "Orders_status_check",
        "c",
        "CHECK (((status)::text = ANY ((ARRAY['pending'::character varying, \
         'processing'::character varying, 'completed'::character varying, \
         'cancelled'::character varying])::text[])))",
    ),
    ("Products", "Products_pkey", "p", "PRIMARY KEY (id)"),
    (
        "UserNotifications",
        "UserNotifications_notificationId_fkey",
        "f",
        r#"FOREIGN KEY ("notificationId") REFERENCES "Notifications"(id) ON DELETE CASCADE"#,
    ),
    (
        "UserNotifications",
        "UserNotifications_pkey",
        "p",
        "PRIMARY KEY (id)",
    ),
    (
        "UserNotifications",
        "UserNotifications_userId_fkey",
        "f",
        r#"FOREIGN KEY ("userId") REFERENCES "Users"(id) ON DELETE CASCADE"#,
    ),
    ("Users", "Users_email_key", "u", "UNIQUE (email)"),
    ("Users", "Users_pkey", "p", "PRIMARY KEY (id)"),
    (
        "Users",
        "Users_role_check",
        "c",
        "CHECK (((role)::text = ANY ((ARRAY['admin'::character varying, \
         'staff'::character varying])::text[])))",
    ),
];

/// `(table, column, referenced table, referenced column, ON DELETE rule)`, from the
/// `REFERENCES ... ON DELETE ...` clauses of the reference.
const FOREIGN_KEYS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "NotificationPreferences",
        "userId",
        "Users",
        "id",
        "CASCADE",
    ),
    ("Notifications", "createdBy", "Users", "id", "SET NULL"),
    ("OrderItems", "orderId", "Orders", "id", "CASCADE"),
    ("OrderItems", "productId", "Products", "id", "SET NULL"),
    ("Orders", "createdBy", "Users", "id", "SET NULL"),
    ("Orders", "customerId", "Customers", "id", "SET NULL"),
    (
        "UserNotifications",
        "notificationId",
        "Notifications",
        "id",
        "CASCADE",
    ),
    ("UserNotifications", "userId", "Users", "id", "CASCADE"),
];

/// `(index, definition)` of the indexes of the eight tables up to V8: the ones PostgreSQL makes
/// for the primary keys and `Users.email UNIQUE`, and the reference's `CREATE [UNIQUE] INDEX`es.
const TABLE_INDEXES: &[(&str, &str)] = &[
    (
        "Customers_pkey",
        r#"CREATE UNIQUE INDEX "Customers_pkey" ON public."Customers" USING btree (id)"#,
    ),
    (
        "NotificationPreferences_pkey",
        r#"CREATE UNIQUE INDEX "NotificationPreferences_pkey" ON public."NotificationPreferences" USING btree (id)"#,
    ),
    (
        "Notifications_pkey",
        r#"CREATE UNIQUE INDEX "Notifications_pkey" ON public."Notifications" USING btree (id)"#,
    ),
    (
        "OrderItems_pkey",
        r#"CREATE UNIQUE INDEX "OrderItems_pkey" ON public."OrderItems" USING btree (id)"#,
    ),
    (
        "Orders_pkey",
        r#"CREATE UNIQUE INDEX "Orders_pkey" ON public."Orders" USING btree (id)"#,
    ),
    (
        "Products_pkey",
        r#"CREATE UNIQUE INDEX "Products_pkey" ON public."Products" USING btree (id)"#,
    ),
    (
        "UserNotifications_pkey",
        r#"CREATE UNIQUE INDEX "UserNotifications_pkey" ON public."UserNotifications" USING btree (id)"#,
    ),
    (
        "Users_email_key",
        r#"CREATE UNIQUE INDEX "Users_email_key" ON public."Users" USING btree (email)"#,
    ),
    (
        "Users_pkey",
        r#"CREATE UNIQUE INDEX "Users_pkey" ON public."Users" USING btree (id)"#,
    ),
    (
        "customers_email_idx",
        r#"CREATE INDEX customers_email_idx ON public."Customers" USING btree (email)"#,
    ),
    (
        "customers_name_idx",
        r#"CREATE INDEX customers_name_idx ON public."Customers" USING btree ("firstName", "lastName")"#,
    ),
    (
        "customers_phone_idx",
        r#"CREATE INDEX customers_phone_idx ON public."Customers" USING btree (phone)"#,
    ),
    (
        "notification_preferences_unique_idx",
        r#"CREATE UNIQUE INDEX notification_preferences_unique_idx ON public."NotificationPreferences" USING btree ("userId", "notificationType")"#,
    ),
    (
        "notifications_created_at_idx",
        r#"CREATE INDEX notifications_created_at_idx ON public."Notifications" USING btree ("createdAt")"#,
    ),
    (
        "notifications_priority_idx",
        r#"CREATE INDEX notifications_priority_idx ON public."Notifications" USING btree (priority)"#,
    ),
    (
        "notifications_type_idx",
        r#"CREATE INDEX notifications_type_idx ON public."Notifications" USING btree (type)"#,
    ),
    (
        "order_items_order_idx",
        r#"CREATE INDEX order_items_order_idx ON public."OrderItems" USING btree ("orderId")"#,
    ),
    (
        "order_items_product_idx",
        r#"CREATE INDEX order_items_product_idx ON public."OrderItems" USING btree ("productId")"#,
    ),
    (
        "orders_created_by_idx",
        r#"CREATE INDEX orders_created_by_idx ON public."Orders" USING btree ("createdBy")"#,
    ),
    (
        "orders_customer_idx",
        r#"CREATE INDEX orders_customer_idx ON public."Orders" USING btree ("customerId")"#,
    ),
    (
        "orders_date_idx",
        r#"CREATE INDEX orders_date_idx ON public."Orders" USING btree ("createdAt")"#,
    ),
    (
        "orders_status_idx",
        r#"CREATE INDEX orders_status_idx ON public."Orders" USING btree (status)"#,
    ),
    (
        "products_category_idx",
        r#"CREATE INDEX products_category_idx ON public."Products" USING btree (category)"#,
    ),
    (
        "products_name_idx",
        r#"CREATE INDEX products_name_idx ON public."Products" USING btree (name)"#,
    ),
    (
        "products_stock_idx",
        r#"CREATE INDEX products_stock_idx ON public."Products" USING btree (stock)"#,
    ),
    (
        "user_notifications_read_idx",
        r#"CREATE INDEX user_notifications_read_idx ON public."UserNotifications" USING btree ("isRead")"#,
    ),
    (
        "user_notifications_unique_idx",
        r#"CREATE UNIQUE INDEX user_notifications_unique_idx ON public."UserNotifications" USING btree ("userId", "notificationId")"#,
    ),
    (
        "user_notifications_user_idx",
        r#"CREATE INDEX user_notifications_user_idx ON public."UserNotifications" USING btree ("userId")"#,
    ),
    (
        "users_email_idx",
        r#"CREATE INDEX users_email_idx ON public."Users" USING btree (email)"#,
    ),
    (
        "users_role_idx",
        r#"CREATE INDEX users_role_idx ON public."Users" USING btree (role)"#,
    ),
];

/// `(index, definition)` of the reference's five performance indexes (V9).
const PERFORMANCE_INDEXES: &[(&str, &str)] = &[
    (
        "customers_name_trgm_idx",
        r#"CREATE INDEX customers_name_trgm_idx ON public."Customers" USING gin ((((("firstName")::text || ' '::text) || ("lastName")::text)) gin_trgm_ops)"#,
    ),
    (
        "orders_customer_date_idx",
        r#"CREATE INDEX orders_customer_date_idx ON public."Orders" USING btree ("customerId", "createdAt")"#,
    ),
    (
        "orders_pending_idx",
        r#"CREATE INDEX orders_pending_idx ON public."Orders" USING btree ("createdAt") WHERE ((status)::text = 'pending'::text)"#,
    ),
    (
        "products_low_stock_idx",
        r#"CREATE INDEX products_low_stock_idx ON public."Products" USING btree (stock) WHERE (stock < 10)"#,
    ),
    (
        "products_name_trgm_idx",
        r#"CREATE INDEX products_name_trgm_idx ON public."Products" USING gin (name gin_trgm_ops)"#,
    ),
];

/// crm's own additions to the reference's indexes (V10), for `--search`.
const SEARCH_INDEXES: &[(&str, &str)] = &[
    (
        "customers_email_trgm_idx",
        r#"CREATE INDEX customers_email_trgm_idx ON public."Customers" USING gin (email gin_trgm_ops)"#,
    ),
    (
        "customers_full_name_trgm_idx",
        r#"CREATE INDEX customers_full_name_trgm_idx ON public."Customers" USING gin (((((COALESCE("firstName", ''::character varying))::text || ' '::text) || (COALESCE("lastName", ''::character varying))::text)) gin_trgm_ops)"#,
    ),
];

/// The index on the inbox entries of one notification (V12).
const NOTIFICATION_INDEXES: &[(&str, &str)] = &[(
    "user_notifications_notification_idx",
    r#"CREATE INDEX user_notifications_notification_idx ON public."UserNotifications" USING btree ("notificationId")"#,
)];

/// The keys `customers duplicates` compares by (V13): the e-mail trimmed and lower-cased, the
/// phone's last ten digits.
const MATCH_KEY_INDEXES: &[(&str, &str)] = &[
    (
        "customers_email_key_idx",
        r#"CREATE INDEX customers_email_key_idx ON public."Customers" USING btree (lower(btrim((email)::text)))"#,
    ),
    (
        "customers_phone_key_idx",
        r#"CREATE INDEX customers_phone_key_idx ON public."Customers" USING btree ("right"(regexp_replace((phone)::text, '\D'::text, ''::text, 'g'::text), 10))"#,
    ),
];

/// The order `customers list --sort lastName` reads (V15).
const SORT_INDEXES: &[(&str, &str)] = &[(
    "customers_last_name_idx",
    r#"CREATE INDEX customers_last_name_idx ON public."Customers" USING btree ("lastName", id)"#,
)];

fn sorted<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut items: Vec<T> = items.into_iter().collect();
    items.sort();
    items
}

fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    sorted(items.into_iter().map(str::to_string))
}

fn owned_pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    pairs.sort();
    pairs
}

/// The tables of schema `public`, sorted.
fn tables(db: &TestDb) -> Vec<String> {
    let rows = db
        .client()
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .expect("cannot list the tables");
    sorted(rows.iter().map(|r| r.get::<_, String>(0)))
}

/// Every table of the fully migrated schema: the reference's, the history, the seed history and
/// the merges.
fn all_tables() -> Vec<String> {
    strings(
        TABLES
            .iter()
            .copied()
            .chain([HISTORY, SEED_HISTORY, MERGES]),
    )
}

/// The reference tables present, plus the history table if present, sorted.
fn tables_with_history(present: &[&str]) -> Vec<String> {
    strings(present.iter().copied().chain([HISTORY]))
}

/// The sequences of schema `public`, sorted.
fn sequences(db: &TestDb) -> Vec<String> {
    let rows = db
        .client()
        .query(
            "SELECT sequencename::text FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .expect("cannot list the sequences");
    sorted(rows.iter().map(|r| r.get::<_, String>(0)))
}

/// `(column, type, nullable, default)` of `table`, in ordinal order, from information_schema.
fn columns(db: &TestDb, table: &str) -> Vec<(String, String, bool, Option<String>)> {
    let rows = db
        .client()
        .query(
            "SELECT column_name::text, data_type::text, character_maximum_length::int, \
                    numeric_precision::int, numeric_scale::int, is_nullable::text, \
                    column_default::text \
             FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 \
             ORDER BY ordinal_position",
            &[&table],
        )
        .unwrap_or_else(|e| panic!("cannot read the columns of {table}: {e}"));
    rows.iter()
        .map(|r| {
            let data_type: String = r.get(1);
            let length: Option<i32> = r.get(2);
            let (precision, scale): (Option<i32>, Option<i32>) = (r.get(3), r.get(4));
            let ty = match (data_type.as_str(), length, precision, scale) {
                (_, Some(length), _, _) => format!("{data_type}({length})"),
                ("numeric", None, Some(p), Some(s)) => format!("numeric({p},{s})"),
                _ => data_type,
            };
            let nullable = match r.get::<_, String>(5).as_str() {
                "YES" => true,
                "NO" => false,
                other => panic!("is_nullable of {table} is {other}"),
            };
            (r.get(0), ty, nullable, r.get(6))
        })
        .collect()
}

/// `(table, constraint, kind, definition)` of every constraint in schema `public` except the
/// history tables', sorted.
fn constraints(db: &TestDb) -> Vec<(String, String, String, String)> {
    let rows = db
        .client()
        .query(
            "SELECT c.relname::text, con.conname::text, con.contype::text, \
                    pg_get_constraintdef(con.oid) \
             FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
             WHERE con.connamespace = 'public'::regnamespace AND c.relname <> ALL($1)",
            &[&[HISTORY, SEED_HISTORY, MERGES].as_slice()],
        )
        .expect("cannot read the constraints");
    let mut found: Vec<_> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    found.sort();
    found
}

/// `(table, column, referenced table, referenced column, delete rule)` of every foreign key,
/// from information_schema, sorted.
fn foreign_keys(db: &TestDb) -> Vec<(String, String, String, String, String)> {
    let rows = db
        .client()
        .query(
            "SELECT k.table_name::text, k.column_name::text, \
                    u.table_name::text, u.column_name::text, rc.delete_rule::text \
             FROM information_schema.referential_constraints rc \
             JOIN information_schema.key_column_usage k \
               ON k.constraint_schema = rc.constraint_schema \
              AND k.constraint_name = rc.constraint_name \
             JOIN information_schema.key_column_usage u \
               ON u.constraint_schema = rc.unique_constraint_schema \
              AND u.constraint_name = rc.unique_constraint_name \
              AND u.ordinal_position = k.position_in_unique_constraint \
             WHERE rc.constraint_schema = 'public'",
            &[],
        )
        .expect("cannot read the foreign keys");
    let mut found: Vec<_> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    found.sort();
    found
}

/// `(index, definition)` of every index of schema `public` except the history tables', sorted.
fn indexes(db: &TestDb) -> Vec<(String, String)> {
    let rows = db
        .client()
        .query(
            "SELECT indexname::text, indexdef FROM pg_indexes \
             WHERE schemaname = 'public' AND tablename <> ALL($1)",
            &[&[HISTORY, SEED_HISTORY, MERGES].as_slice()],
        )
        .expect("cannot read the indexes");
    let mut found: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    found.sort();
    found
}

/// `(version, name)` of every row of the history table, in version order; none without it.
fn history(db: &TestDb) -> Vec<(i32, String)> {
    let mut client = db.client();
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&HISTORY])
        .expect("cannot look for the history table")
        .get(0);
    if !exists {
        return Vec::new();
    }
    client
        .query(
            "SELECT version, name FROM refinery_schema_history ORDER BY version",
            &[],
        )
        .expect("cannot read the history")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn history_of(versions: std::ops::RangeInclusive<i32>) -> Vec<(i32, String)> {
    MIGRATIONS
        .iter()
        .filter(|(v, _)| versions.contains(v))
        .map(|(v, name)| (*v, name.to_string()))
        .collect()
}

fn migrate(db: &TestDb) {
    db.crm().args(["db", "migrate"]).run().assert_success();
}

/// The user and password of the test database's URL, percent-decoded.
fn url_credentials(url: &str) -> (String, Option<String>) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let userinfo = authority
        .rsplit_once('@')
        .map_or("postgres", |(userinfo, _)| userinfo);
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    match userinfo.split_once(':') {
        Some((user, password)) => (decode(user), Some(decode(password))),
        None => (decode(userinfo), None),
    }
}

/// `pg_dump --schema-only` of the database, connected through libpq's environment variables
/// (no password on the command line), without the lines that differ from one run to the next.
fn schema_dump(db: &TestDb) -> String {
    let installed = Path::new("/usr/lib/postgresql/15/bin/pg_dump");
    let program = match installed.is_file() {
        true => installed,
        false => Path::new("pg_dump"),
    };
    let (user, password) = url_credentials(&db.url());
    let mut cmd = Command::new(program);
    cmd.args(["--schema-only", "--no-owner", "--no-privileges"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANG", "C.UTF-8")
        .env("PGHOST", &server().host)
        .env("PGPORT", server().port.to_string())
        .env("PGUSER", user)
        .env("PGDATABASE", &db.name)
        .env("PGCONNECT_TIMEOUT", "30");
    if let Some(password) = password {
        cmd.env("PGPASSWORD", password);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        out.status.success(),
        "pg_dump of {} failed ({}):\n{}",
        db.name,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("pg_dump printed something other than UTF-8")
        .lines()
        .filter(|line| {
            !line.starts_with("-- Dumped ")
                && !line.starts_with("\\restrict")
                && !line.starts_with("\\unrestrict")
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn migrate_creates_exactly_the_reference_schema() {
    let db = TestDb::empty();

    migrate(&db);

    assert_eq!(tables(&db), all_tables());
    for table in TABLES {
        assert_eq!(
            columns(&db, table),
            expected_columns(table),
            "the columns of {table}"
        );
    }
    let expected_constraints = CONSTRAINTS.iter().map(|(t, name, kind, def)| {
        (
            t.to_string(),
            name.to_string(),
            kind.to_string(),
            def.to_string(),
        )
    });
    assert_eq!(constraints(&db), sorted(expected_constraints));
    let expected_keys = FOREIGN_KEYS.iter().map(|(t, c, rt, rc, rule)| {
        (
            t.to_string(),
            c.to_string(),
            rt.to_string(),
            rc.to_string(),
            rule.to_string(),
        )
    });
    assert_eq!(foreign_keys(&db), sorted(expected_keys));
    let all_indexes = [
        TABLE_INDEXES,
        PERFORMANCE_INDEXES,
        SEARCH_INDEXES,
        NOTIFICATION_INDEXES,
        MATCH_KEY_INDEXES,
        SORT_INDEXES,
    ]
    .concat();
    assert_eq!(indexes(&db), owned_pairs(&all_indexes));
    let trgm: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'",
            &[],
        )
        .expect("cannot read pg_extension")
        .get(0);
    assert_eq!(trgm, 1, "the pg_trgm extension is not installed");
}

#[test]
fn migration_history_records_all_fifteen() {
    let db = TestDb::empty();

    migrate(&db);

    assert_eq!(history(&db), history_of(1..=15));
}

#[test]
fn undo_all_leaves_no_crm_table_and_remigrating_gives_the_same_schema() {
    let db = TestDb::empty();
    migrate(&db);
    let first = schema_dump(&db);

    db.crm()
        .args(["db", "migrate", "undo", "--all", "--yes"])
        .run()
        .assert_success();

    let left = tables(&db);
    assert!(
        left.is_empty() || left == [HISTORY],
        "after undo --all, schema public still holds {left:?}"
    );
    assert_eq!(sequences(&db), Vec::<String>::new(), "sequences left");
    assert_eq!(history(&db), Vec::new(), "history rows left");

    migrate(&db);
    let second = schema_dump(&db);

    assert!(
        first.contains(r#"CREATE TABLE public."NotificationPreferences""#),
        "the dump holds no schema:\n{first}"
    );
    assert_eq!(
        first, second,
        "the schema differs after undo --all and migrate"
    );
}

#[test]
fn undo_steps_and_to() {
    let db = TestDb::empty();
    migrate(&db);

    db.crm()
        .args(["db", "migrate", "undo", "--steps", "7", "--yes"])
        .run()
        .assert_success();

    assert_eq!(tables(&db), tables_with_history(&TABLES));
    assert_eq!(indexes(&db), owned_pairs(TABLE_INDEXES));
    assert_eq!(history(&db), history_of(1..=8));

    db.crm()
        .args(["db", "migrate", "undo", "--to", "5", "--yes"])
        .run()
        .assert_success();

    assert_eq!(tables(&db), tables_with_history(&TABLES[..5]));
    let ids = TABLES[..5].iter().map(|t| format!("{t}_id_seq"));
    assert_eq!(sequences(&db), sorted(ids));
    assert_eq!(history(&db), history_of(1..=5));

    let status = db.crm().args(["db", "migrate", "status"]).run();
    status.assert_success();
    let mut csv = csv::Reader::from_reader(status.stdout.as_bytes());
    let header = csv.headers().expect("status prints a CSV header").clone();
    assert_eq!(
        header.iter().collect::<Vec<_>>(),
        ["version", "name", "state", "appliedAt"],
        "{status}"
    );
    let rows: Vec<csv::StringRecord> = csv
        .records()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("status printed bad CSV ({e})\n\n{status}"));
    let states: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r[0].to_string(), r[1].to_string(), r[2].to_string()))
        .collect();
    let expected: Vec<(String, String, String)> = MIGRATIONS
        .iter()
        .map(|(v, name)| {
            let state = if *v <= 5 { "applied" } else { "pending" };
            (v.to_string(), name.to_string(), state.to_string())
        })
        .collect();
    assert_eq!(states, expected, "{status}");
    for row in &rows {
        let applied = &row[2] == "applied";
        assert_eq!(
            !row[3].is_empty(),
            applied,
            "appliedAt of V{} should be {}\n\n{status}",
            &row[0],
            if applied { "set" } else { "empty" }
        );
    }
}

#[test]
fn undo_without_yes_and_without_a_terminal_is_refused() {
    let db = TestDb::empty();
    migrate(&db);

    let undo = db.crm().args(["db", "migrate", "undo", "--all"]).run();

    undo.assert_code(2).assert_stderr_contains("--yes");
    assert_eq!(tables(&db), all_tables());
    assert_eq!(history(&db), history_of(1..=15));
}
