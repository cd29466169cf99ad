# The customers and products section: export, import and list against psql on the same data.
# Sourced by scripts/bench.sh (see there for what a section gets).
PRODUCTS=$(( ROWS / 100 > 0 ? ROWS / 100 : 1 ))
DB=$(new_db crm_bench)
EMPTY=$(new_db crm_bench_empty)

echo "bench: generating $ROWS customers and $PRODUCTS products" >&2
psql -X -q -v ON_ERROR_STOP=1 -v rows="$ROWS" "$DB" <<SQL
\i scripts/bench/customers-data.sql
INSERT INTO "Products" ("name", "description", "price", "stock", "category", "image", "createdAt", "updatedAt")
SELECT 'Product ' || i, 'Description of product ' || i, ((i % 10000) + 99) / 100.0, i % 200,
       (ARRAY['books','tools','games','food'])[1 + i % 4], NULL,
       timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00'
FROM generate_series(1, $PRODUCTS) AS i;
VACUUM ANALYZE "Customers";
VACUUM ANALYZE "Products";
SQL

COLUMNS_SQL='SELECT "id", "firstName", "lastName", "email", "phone", "address", "totalPurchases", "createdAt", "updatedAt" FROM "Customers" ORDER BY "id"'

echo "bench: export" >&2
read -r crm_export crm_export_kb < <(measure "$CRM" -q --database-url "$DB" customers export "$work/customers.csv")
read -r psql_export _ < <(measure psql -X -q "$DB" -c "\\copy ($COLUMNS_SQL) TO '$work/psql.csv' CSV HEADER")

echo "bench: import" >&2
SETUP="psql -X -q '$EMPTY' -c 'TRUNCATE \"Customers\" RESTART IDENTITY CASCADE'"
COPY_IN='\copy "Customers" ("id", "firstName", "lastName", "email", "phone", "address", "totalPurchases", "createdAt", "updatedAt") FROM '"'$work/customers.csv'"' CSV HEADER'
read -r crm_import crm_import_kb < <(measure "$CRM" -q --database-url "$EMPTY" customers import "$work/customers.csv")
read -r psql_import _ < <(measure psql -X -q "$EMPTY" -c "$COPY_IN")
unset SETUP

echo "bench: list" >&2
read -r crm_search crm_search_kb < <(measure "$CRM" -q --database-url "$DB" customers list --search smi --limit 20)
read -r psql_search _ < <(measure psql -X -q "$DB" -c "SELECT * FROM \"Customers\" WHERE (\"firstName\" || ' ' || \"lastName\") ILIKE '%smi%' OR \"email\" ILIKE '%smi%' ORDER BY \"id\" LIMIT 20")
# The sort crm runs for --sort lastName (crm -v shows it): served by the index on
# "Customers"("lastName", "id") that V15 added, whatever the table's size.
read -r crm_sort crm_sort_kb < <(measure "$CRM" -q --database-url "$DB" customers list --sort lastName --limit 20)
read -r psql_sort _ < <(measure psql -X -q "$DB" -c "${COLUMNS_SQL% ORDER BY*} ORDER BY \"lastName\", \"id\" LIMIT 20")
read -r crm_table crm_table_kb < <(measure env COLUMNS=80 "$CRM" -q --database-url "$DB" -o table customers list --all)
read -r psql_table _ < <(measure psql -X -q "$DB" -c "$COLUMNS_SQL")
read -r crm_products crm_products_kb < <(measure "$CRM" -q --database-url "$DB" products list --limit 20)
read -r psql_products _ < <(measure psql -X -q "$DB" -c 'SELECT * FROM "Products" ORDER BY "id" LIMIT 20')

header "Customers and products ($ROWS customers, $PRODUCTS products; other: psql)"
row "customers export FILE" "$crm_export" "$crm_export_kb" "$psql_export"
row "customers import FILE (empty table)" "$crm_import" "$crm_import_kb" "$psql_import"
row "customers list --search smi --limit 20" "$crm_search" "$crm_search_kb" "$psql_search"
row "customers list --sort lastName --limit 20" "$crm_sort" "$crm_sort_kb" "$psql_sort"
row "customers list --all -o table (80 columns; other: psql's aligned table)" "$crm_table" "$crm_table_kb" "$psql_table"
row "products list --limit 20" "$crm_products" "$crm_products_kb" "$psql_products"

# The next section's data set fits on disk at ROWS=10000000 only once this one's is gone.
psql_admin -c 'DROP DATABASE crm_bench' -c 'DROP DATABASE crm_bench_empty'
