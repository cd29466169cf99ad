#!/usr/bin/env bash
# A soak test of crm: CLIENTS concurrent clients (default 16) placing, completing and cancelling
# orders, importing and exporting customers, and reading lists and reports, for DURATION seconds
# (default 300) or until each client has done MAX_OPS operations (default 100000), whichever comes
# first, against a throwaway cluster on loopback (or CRM_SOAK_DATABASE_URL, a superuser URL).
#
#   scripts/soak.sh
#   DURATION=60 CLIENTS=8 scripts/soak.sh
#
# It prints the throughput of each kind of operation, then checks that nothing was lost or made
# up: every order crm said it placed is in the database (and no other), every imported customer
# is there, stock and totals agree (`crm db check` finds nothing), and no command failed in a way
# other than the expected refusals (exit 5: out of stock, a forbidden status change). It exits
# non-zero if any check fails.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-300}
CLIENTS=${CLIENTS:-16}
MAX_OPS=${MAX_OPS:-100000}
export PGOPTIONS='-c client_min_messages=warning'

cargo build --release -q
CRM="$PWD/target/release/crm"
WORK_PREFIX=crm-soak SERVER_URL_VAR=CRM_SOAK_DATABASE_URL
# shellcheck source=lib/cluster.sh
source scripts/lib/cluster.sh

psql -X -q -v ON_ERROR_STOP=1 "$ADMIN_URL" -c "DROP DATABASE IF EXISTS crm_soak" -c "CREATE DATABASE crm_soak"
DB="$base/crm_soak"
"$CRM" -q --database-url "$DB" db migrate
# 1,000 customers; 50 products, ten of them scarce so that orders also run out of stock.
psql -X -q -v ON_ERROR_STOP=1 "$DB" <<'SQL'
INSERT INTO "Customers" ("firstName", "lastName", "email", "createdAt", "updatedAt")
SELECT 'Soak', 'Customer ' || i, 'soak' || i || '@example.com', now(), now()
FROM generate_series(1, 1000) AS i;
INSERT INTO "Products" ("name", "price", "stock", "createdAt", "updatedAt")
SELECT 'Product ' || i, 1.00 + i, CASE WHEN i <= 10 THEN 200 ELSE 1000000 END, now(), now()
FROM generate_series(1, 50) AS i;
SQL

export CRM DB work
deadline=$(( $(date +%s) + DURATION ))
export deadline MAX_OPS

# client N: one loop of mixed work; appends "kind exit-code" lines to $work/log.N, and the ids of
# the orders it placed to $work/orders.N, the e-mails it imported to $work/imported.N.
client() {
  local n=$1 ops=0 out rc
  local log="$work/log.$n"
  : > "$log"; : > "$work/orders.$n"; : > "$work/imported.$n"
  while [ "$(date +%s)" -lt "$deadline" ] && [ "$ops" -lt "$MAX_OPS" ]; do
    ops=$((ops + 1))
    case $(( (n + ops) % 8 )) in
      0|1|2|3)
        rc=0
        out=$("$CRM" -q -o csv --database-url "$DB" orders create --customer $(( 1 + RANDOM % 1000 )) \
          --item $(( 1 + RANDOM % 50 )):$(( 1 + RANDOM % 3 )) --item $(( 1 + RANDOM % 50 )):1 2>>"$work/stderr.$n") || rc=$?
        echo "create $rc" >> "$log"
        if [ "$rc" = 0 ]; then
          # The first field of the second line is the new order's id.
          echo "$out" | awk -F, 'NR == 2 { print $1 }' >> "$work/orders.$n"
        fi
        ;;
      4)
        local id
        id=$(tail -1 "$work/orders.$n" 2>/dev/null || true)
        if [ -n "$id" ]; then
          rc=0
          if [ $(( RANDOM % 2 )) = 0 ]; then
            "$CRM" -q --database-url "$DB" orders set-status "$id" processing >/dev/null 2>>"$work/stderr.$n" || rc=$?
            [ "$rc" = 0 ] && { "$CRM" -q --database-url "$DB" orders set-status "$id" completed >/dev/null 2>>"$work/stderr.$n" || rc=$?; }
            echo "complete $rc" >> "$log"
          else
            "$CRM" -q --database-url "$DB" orders cancel "$id" >/dev/null 2>>"$work/stderr.$n" || rc=$?
            echo "cancel $rc" >> "$log"
          fi
        fi
        ;;
      5)
        local csv="$work/import.$n.csv" i
        printf 'firstName,lastName,email\n' > "$csv"
        for i in 1 2 3 4 5 6 7 8 9 10; do
          printf 'Imported,C%s,imp-%s-%s-%s@example.com\n' "$i" "$n" "$ops" "$i" >> "$csv"
        done
        rc=0
        "$CRM" -q --database-url "$DB" customers import "$csv" >/dev/null 2>>"$work/stderr.$n" || rc=$?
        echo "import $rc" >> "$log"
        [ "$rc" = 0 ] && tail -n +2 "$csv" | cut -d, -f3 >> "$work/imported.$n"
        ;;
      6)
        rc=0
        "$CRM" -q --database-url "$DB" orders export >/dev/null 2>>"$work/stderr.$n" || rc=$?
        echo "export $rc" >> "$log"
        ;;
      7)
        rc=0
        { "$CRM" -q --database-url "$DB" customers list --search soak1 --limit 20 >/dev/null &&
          "$CRM" -q --database-url "$DB" orders report sales --by day >/dev/null; } 2>>"$work/stderr.$n" || rc=$?
        echo "read $rc" >> "$log"
        ;;
    esac
  done
}
export -f client

echo "soak: $CLIENTS clients for ${DURATION}s (at most $MAX_OPS operations each)" >&2
started=$(date +%s)
pids=()
for n in $(seq "$CLIENTS"); do
  bash -c "client $n" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
elapsed=$(( $(date +%s) - started ))
[ "$elapsed" -gt 0 ] || elapsed=1

cat "$work"/log.* > "$work/all.log"
echo
echo "| operation | succeeded | refused (exit 5) | failed | per second |"
echo "| --- | --- | --- | --- | --- |"
for kind in create complete cancel import export read; do
  awk -v k="$kind" -v s="$elapsed" '$1 == k { n++; if ($2 == 0) ok++; else if ($2 == 5) refused++; else bad++ }
    END { printf "| %s | %d | %d | %d | %.1f |\n", k, ok, refused, bad, n / s }' "$work/all.log"
done

status=0
fail() { echo "soak: FAILED: $*" >&2; status=1; }
failed=$(awk '$2 != 0 && $2 != 5' "$work/all.log" | wc -l)
[ "$failed" = 0 ] || { fail "$failed operations failed (not a refusal); their errors:"; sort "$work"/stderr.* | uniq -c | sort -rn | head -5 >&2; }
placed=$(cat "$work"/orders.* | sort -u | wc -l)
in_db=$(psql -X -qAt "$DB" -c 'SELECT count(*) FROM "Orders"')
[ "$placed" = "$in_db" ] || fail "crm placed $placed orders, the database holds $in_db"
ids=$(cat "$work"/orders.* | sort -u | paste -sd, -)
missing=$(psql -X -qAt "$DB" -c "SELECT count(*) FROM unnest('{${ids}}'::int[]) AS p(placed) WHERE NOT EXISTS (SELECT 1 FROM \"Orders\" o WHERE o.\"id\" = p.placed)")
[ "${missing:-0}" = 0 ] || fail "$missing placed orders are not in the database"
imported=$(cat "$work"/imported.* | wc -l)
imported_db=$(psql -X -qAt "$DB" -c "SELECT count(*) FROM \"Customers\" WHERE \"email\" LIKE 'imp-%'")
[ "$imported" = "$imported_db" ] || fail "crm imported $imported customers, the database holds $imported_db"
"$CRM" -q --database-url "$DB" db check >/dev/null || fail "crm db check found violations"
echo
echo "soak: ${elapsed}s, $CLIENTS clients; $placed orders placed and all found; $imported customers imported and all found; db check: $([ $status = 0 ] && echo clean || echo see above)"
exit $status
