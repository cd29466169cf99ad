#!/usr/bin/env bash
# crm's benchmarks, measured side by side with psql in one run on this machine, as medians and
# ratios (never absolute times asserted in tests: machines are shared and noisy).
#
#   scripts/bench.sh            # 1,000,000 customers, 10,000 products, 7 runs each
#   ROWS=100000 RUNS=3 scripts/bench.sh
#   CRM_BENCH_DATABASE_URL=postgresql://postgres@host/postgres scripts/bench.sh   # an existing server
#
# It builds crm in release mode, starts a throwaway PostgreSQL cluster (as the postgres account
# when run as root), generates the data set with SQL (reproducibly: the same rows every run), and
# prints a Markdown table for README's Performance section.
set -euo pipefail
cd "$(dirname "$0")/.."

# Keep psql's NOTICEs (TRUNCATE ... CASCADE) out of the report.
export PGOPTIONS='-c client_min_messages=warning'
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-7}
PRODUCTS=$(( ROWS / 100 > 0 ? ROWS / 100 : 1 ))

command -v /usr/bin/time >/dev/null || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 1; }
cargo build --release -q
CRM="$PWD/target/release/crm"

work=$(mktemp -d /tmp/crm-bench.XXXXXX)
chmod 755 "$work"
cleanup() {
  if [ -n "${PGDATA_DIR:-}" ]; then as_server pg_ctl -D "$PGDATA_DIR" stop -m immediate >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

as_server() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ -z "${CRM_BENCH_DATABASE_URL:-}" ]; then
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  export PATH="$bin:$PATH"
  PGDATA_DIR="$work/pg"
  mkdir -p "$PGDATA_DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$PGDATA_DIR"
  as_server initdb -D "$PGDATA_DIR" -U postgres --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  as_server pg_ctl -D "$PGDATA_DIR" -l "$PGDATA_DIR/log" -w start \
    -o "-p $port -k $PGDATA_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=256MB" >/dev/null
  ADMIN_URL="postgresql://postgres@127.0.0.1:$port/postgres"
else
  ADMIN_URL=$CRM_BENCH_DATABASE_URL
fi
base=${ADMIN_URL%/*}
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 "$ADMIN_URL" "$@"; }
psql_admin -c 'DROP DATABASE IF EXISTS crm_bench' -c 'DROP DATABASE IF EXISTS crm_bench_empty'
psql_admin -c 'CREATE DATABASE crm_bench' -c 'CREATE DATABASE crm_bench_empty'
DB="$base/crm_bench"
EMPTY="$base/crm_bench_empty"
"$CRM" -q --database-url "$DB" db migrate
"$CRM" -q --database-url "$EMPTY" db migrate

echo "bench: generating $ROWS customers and $PRODUCTS products" >&2
psql -X -q -v ON_ERROR_STOP=1 "$DB" <<SQL
INSERT INTO "Customers" ("firstName", "lastName", "email", "phone", "address", "totalPurchases", "createdAt", "updatedAt")
SELECT (ARRAY['Ada','Bruno','Chloé','Dmitri','Eve','Farah','Goran','Hana','Ivan','Jia','Kofi','Lena'])[1 + i % 12],
       (ARRAY['Smith','Jones','García','Müller','Nakamura','Okafor','Rossi','Silva','Novak','Kim','Smirnov','Osmond',
              'Brown','Dubois','Haddad','Ivanova','Larsen','Moreau','Nguyen','Patel'])[1 + (i / 12) % 20],
       'customer' || i || '@example.com',
       '+1 555 ' || lpad((i % 10000000)::text, 7, '0'),
       i || ' Main Street, "Unit ' || (i % 50) || '", Springfield',
       0.00,
       timestamptz '2024-01-01 00:00:00+00' + (i || ' seconds')::interval,
       timestamptz '2024-01-01 00:00:00+00' + (i || ' seconds')::interval
FROM generate_series(1, $ROWS) AS i;
INSERT INTO "Products" ("name", "description", "price", "stock", "category", "image", "createdAt", "updatedAt")
SELECT 'Product ' || i, 'Description of product ' || i, ((i % 10000) + 99) / 100.0, i % 200,
       (ARRAY['books','tools','games','food'])[1 + i % 4], NULL,
       timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00'
FROM generate_series(1, $PRODUCTS) AS i;
VACUUM ANALYZE "Customers";
VACUUM ANALYZE "Products";
SQL

# measure CMD...: prints the median wall time of RUNS runs in milliseconds, and the largest
# maximum resident set size seen in KB. $SETUP, if set, runs before each run, outside the timing.
measure() {
  local times=() t0 t1 rss peak=0
  for _ in $(seq "$RUNS"); do
    if [ -n "${SETUP:-}" ]; then eval "$SETUP"; fi
    t0=$(date +%s%N)
    /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000000 )))
    rss=$(tail -1 "$work/rss")
    if [ "$rss" -gt "$peak" ]; then peak=$rss; fi
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v peak="$peak" '{a[NR]=$1} END {print a[int((NR+1)/2)], peak}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

row() { printf '| %s | %s ms | %s MB | %s ms | %sx |\n' "$1" "$2" "$(( $3 / 1024 ))" "$4" "$(ratio "$2" "$4")"; }

COLUMNS_SQL='SELECT "id", "firstName", "lastName", "email", "phone", "address", "totalPurchases", "createdAt", "updatedAt" FROM "Customers" ORDER BY "id"'

echo "bench: export" >&2
read -r crm_export crm_export_kb < <(measure "$CRM" -q --database-url "$DB" customers export "$work/customers.csv")
read -r psql_export _ < <(measure psql -X -q "$DB" -c "\\copy ($COLUMNS_SQL) TO '$work/psql.csv' CSV HEADER")
# The same SELECT as crm's (RFC 3339 UTC timestamps, empty strings as NULL): crm's own overhead.
CRM_SQL="SELECT \"id\", NULLIF(\"firstName\", ''), NULLIF(\"lastName\", ''), NULLIF(\"email\", ''), NULLIF(\"phone\", ''), NULLIF(\"address\", ''), \"totalPurchases\", replace((\"createdAt\" AT TIME ZONE 'UTC')::text, ' ', 'T') || 'Z', replace((\"updatedAt\" AT TIME ZONE 'UTC')::text, ' ', 'T') || 'Z' FROM \"Customers\" ORDER BY \"id\""
read -r psql_export_same _ < <(measure psql -X -q "$DB" -c "SET DateStyle = 'ISO, YMD'" -c "\\copy ($CRM_SQL) TO '$work/psql2.csv' CSV HEADER")

echo "bench: import" >&2
SETUP="psql -X -q '$EMPTY' -c 'TRUNCATE \"Customers\" RESTART IDENTITY CASCADE'"
COPY_IN='\copy "Customers" ("id", "firstName", "lastName", "email", "phone", "address", "totalPurchases", "createdAt", "updatedAt") FROM '"'$work/customers.csv'"' CSV HEADER'
read -r crm_import crm_import_kb < <(measure "$CRM" -q --database-url "$EMPTY" customers import "$work/customers.csv")
read -r psql_import _ < <(measure psql -X -q "$EMPTY" -c "$COPY_IN")
unset SETUP

echo "bench: list" >&2
read -r crm_search crm_search_kb < <(measure "$CRM" -q --database-url "$DB" customers list --search smi --limit 20)
read -r psql_search _ < <(measure psql -X -q "$DB" -c "SELECT * FROM \"Customers\" WHERE (\"firstName\" || ' ' || \"lastName\") ILIKE '%smi%' OR \"email\" ILIKE '%smi%' ORDER BY \"id\" LIMIT 20")
read -r crm_products crm_products_kb < <(measure "$CRM" -q --database-url "$DB" products list --limit 20)
read -r psql_products _ < <(measure psql -X -q "$DB" -c 'SELECT * FROM "Products" ORDER BY "id" LIMIT 20')

echo
echo "$ROWS customers, $PRODUCTS products; median of $RUNS runs; $(nproc) cores; $(date -u +%Y-%m-%d)"
echo
echo "| command | crm | crm peak RSS | psql | crm / psql |"
echo "| --- | --- | --- | --- | --- |"
row "customers export FILE (psql: plain columns)" "$crm_export" "$crm_export_kb" "$psql_export"
row "customers export FILE (psql: crm's SELECT)" "$crm_export" "$crm_export_kb" "$psql_export_same"
row "customers import FILE (empty table)" "$crm_import" "$crm_import_kb" "$psql_import"
row "customers list --search smi --limit 20" "$crm_search" "$crm_search_kb" "$psql_search"
row "products list --limit 20" "$crm_products" "$crm_products_kb" "$psql_products"
