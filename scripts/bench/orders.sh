# The orders section: placing an order (the whole crm process) and the three reports, each
# against psql running the same work. Sourced by scripts/bench.sh (see there for what it gets).
#
# The data set: ROWS customers, ROWS/100 products, ROWS orders of 1-5 items each (about 3 items
# on average), 60% completed, spread over two years; the same rows every run.
PRODUCTS=$(( ROWS / 100 > 0 ? ROWS / 100 : 1 ))
DB=$(new_db crm_bench_orders)

echo "bench: generating $ROWS customers, $PRODUCTS products, $ROWS orders and their items" >&2
psql -X -q -v ON_ERROR_STOP=1 -v rows="$ROWS" -v products="$PRODUCTS" "$DB" -f scripts/bench/orders-data.sql

WHERE="o.\"status\" = 'completed'"
SALES_SQL="SELECT to_char(date_trunc('month', o.\"createdAt\" AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS period, count(*), sum(o.\"total\"), round(avg(o.\"total\"), 2) FROM \"Orders\" o WHERE $WHERE GROUP BY 1 ORDER BY 1"
PRODUCTS_SQL="SELECT s.\"productId\", p.\"name\", s.u, s.r FROM (SELECT i.\"productId\", sum(i.\"quantity\")::int8 AS u, sum(i.\"quantity\" * i.\"price\") AS r FROM \"OrderItems\" i JOIN \"Orders\" o ON o.\"id\" = i.\"orderId\" WHERE $WHERE GROUP BY i.\"productId\" ORDER BY r DESC, u DESC, i.\"productId\" NULLS LAST LIMIT 20) s LEFT JOIN \"Products\" p ON p.\"id\" = s.\"productId\" ORDER BY s.r DESC, s.u DESC, s.\"productId\" NULLS LAST"
CUSTOMERS_SQL="SELECT s.\"customerId\", c.\"firstName\", c.\"lastName\", c.\"email\", s.n, s.r FROM (SELECT o.\"customerId\", count(*) AS n, sum(o.\"total\") AS r FROM \"Orders\" o WHERE $WHERE GROUP BY o.\"customerId\" ORDER BY r DESC, n DESC, o.\"customerId\" NULLS LAST LIMIT 20) s LEFT JOIN \"Customers\" c ON c.\"id\" = s.\"customerId\" ORDER BY s.r DESC, s.n DESC, s.\"customerId\" NULLS LAST"
# What orders export reads (crm -v shows it); psql's \copy of it is the other side.
EXPORT_SQL='SELECT "id", "customerId", "customerName", "status", "total", "itemCount", "createdBy", "notes", "createdAt", "updatedAt" FROM (SELECT o."id", o."customerId", NULLIF(btrim(concat_ws('"' '"', c."firstName", c."lastName")), '"''"') AS "customerName", o."status", o."total", (SELECT count(*) FROM "OrderItems" i WHERE i."orderId" = o."id") AS "itemCount", o."createdBy", o."notes", o."createdAt", o."updatedAt" FROM "Orders" o LEFT JOIN "Customers" c ON c."id" = o."customerId" LEFT JOIN "Users" u ON u."id" = o."createdBy") AS "orders" ORDER BY "id"'
# What crm orders create does, as one psql transaction: the floor of a whole process placing it.
CREATE_SQL="BEGIN;
SELECT \"id\" FROM \"Customers\" WHERE \"id\" = 1 FOR KEY SHARE;
SELECT \"id\", \"name\", \"price\", \"stock\" FROM \"Products\" WHERE \"id\" = ANY('{1}') ORDER BY \"id\" FOR NO KEY UPDATE;
UPDATE \"Products\" SET \"stock\" = \"stock\" - 1, \"updatedAt\" = now() WHERE \"id\" = 1;
WITH o AS (INSERT INTO \"Orders\" (\"customerId\", \"status\", \"total\", \"createdAt\", \"updatedAt\") VALUES (1, 'pending', 1.00, now(), now()) RETURNING \"id\")
INSERT INTO \"OrderItems\" (\"orderId\", \"productId\", \"quantity\", \"price\", \"createdAt\", \"updatedAt\") SELECT \"id\", 1, 1, 1.00, now(), now() FROM o;
COMMIT;"

echo "bench: reports" >&2
read -r crm_sales crm_sales_kb < <(measure "$CRM" -q --database-url "$DB" orders report sales --by month)
# psql runs with the work_mem crm sets for its reports.
export PGOPTIONS="$PGOPTIONS -c work_mem=256MB"
read -r psql_sales _ < <(measure psql -X -q "$DB" -c "$SALES_SQL")
read -r crm_products crm_products_kb < <(measure "$CRM" -q --database-url "$DB" orders report products)
read -r psql_products _ < <(measure psql -X -q "$DB" -c "$PRODUCTS_SQL")
read -r crm_customers crm_customers_kb < <(measure "$CRM" -q --database-url "$DB" orders report customers)
read -r psql_customers _ < <(measure psql -X -q "$DB" -c "$CUSTOMERS_SQL")

export PGOPTIONS='-c client_min_messages=warning'

echo "bench: orders export" >&2
read -r crm_export crm_export_kb < <(measure "$CRM" -q --database-url "$DB" orders export "$work/orders.csv")
read -r psql_export _ < <(measure psql -X -q "$DB" -c "\\copy ($EXPORT_SQL) TO '$work/psql-orders.csv' CSV HEADER")
rm -f "$work/orders.csv" "$work/psql-orders.csv"

# db check against psql running its queries (the *_FIND constants of src/commands/db/check.rs,
# in the order it runs them) in one read-only snapshot with the same work_mem. This data set
# leaves totalPurchases at 0, so every customer with a completed order is a violation: both
# print every one of them (crm streams them; psql holds them until the query ends). crm's exit
# status is then 1, which is its answer, not a failure.
echo "bench: db check" >&2
{
  echo "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL work_mem = '256MB';"
  awk '/^const [A-Z_]*_FIND: &str = r#"/ { on = 1; sub(/^.*r#"/, "") }
       on { if (/"#;$/) { sub(/"#;$/, ""); print; print ";"; on = 0 } else print }' src/commands/db/check.rs
  echo "COMMIT;"
} > "$work/check.sql"
read -r crm_check crm_check_kb < <(measure sh -c '"$@"; [ $? -le 1 ]' sh "$CRM" -q --database-url "$DB" db check)
read -r psql_check _ < <(measure psql -X -q -A -t -v ON_ERROR_STOP=1 "$DB" -f "$work/check.sql")

echo "bench: orders create" >&2
read -r crm_create crm_create_kb < <(measure "$CRM" -q --database-url "$DB" orders create --customer 1 --item 1:1)
read -r psql_create _ < <(measure psql -X -q "$DB" -c "$CREATE_SQL")

header "Orders ($ROWS orders of 1-5 items, $ROWS customers, $PRODUCTS products; other: psql running the same SQL)"
row "orders report sales --by month" "$crm_sales" "$crm_sales_kb" "$psql_sales"
row "orders report products" "$crm_products" "$crm_products_kb" "$psql_products"
row "orders report customers" "$crm_customers" "$crm_customers_kb" "$psql_customers"
row "orders export FILE" "$crm_export" "$crm_export_kb" "$psql_export"
row "db check (other: psql running its queries)" "$crm_check" "$crm_check_kb" "$psql_check"
row "orders create --customer 1 --item 1:1" "$crm_create" "$crm_create_kb" "$psql_create"

# The next section's data set fits on disk at ROWS=10000000 only once this one's is gone.
psql_admin -c 'DROP DATABASE crm_bench_orders'
