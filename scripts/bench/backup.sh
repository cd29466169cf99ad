# The backup section: `crm db backup` (pg_dump, the read-back by pg_restore, the checksum, the
# manifest and retention included) against a bare `pg_dump -Fc` of the same database, and
# `crm db restore --into` (restore and check) against a bare CREATE DATABASE + `pg_restore -j`,
# both with `JOBS` parallel jobs (default: the number of cores, crm's own default). Sourced by
# scripts/bench.sh (see there for what it gets). The data set is the orders section's.
PRODUCTS=$(( ROWS / 100 > 0 ? ROWS / 100 : 1 ))
DB=$(new_db crm_bench_backup)

echo "bench: generating $ROWS customers, $PRODUCTS products, $ROWS orders and their items" >&2
psql -X -q -v ON_ERROR_STOP=1 -v rows="$ROWS" -v products="$PRODUCTS" "$DB" -f scripts/bench/orders-data.sql

mkdir -p "$work/backups"
echo "bench: backups" >&2
SETUP="rm -f $work/backups/backup_* $work/plain.dump"
read -r crm_backup crm_backup_kb < <(measure "$CRM" -q --database-url "$DB" db backup --dir "$work/backups")
read -r pg_dump_ms _ < <(measure pg_dump -Fc -d "$DB" -f "$work/plain.dump")
unset SETUP

"$CRM" -q --database-url "$DB" db backup --dir "$work/backups"
file=$(ls "$work"/backups/backup_*.dump | tail -1)
echo "bench: restores" >&2
SETUP="psql_admin -c 'DROP DATABASE IF EXISTS crm_bench_restored' -c 'DROP DATABASE IF EXISTS crm_bench_plain'"
JOBS=${JOBS:-$(nproc)}
read -r crm_restore crm_restore_kb < <(measure "$CRM" -q --database-url "$DB" db restore "$file" --into crm_bench_restored --jobs "$JOBS")
read -r pg_restore_ms _ < <(measure sh -c "psql -X -q '$ADMIN_URL' -c 'CREATE DATABASE crm_bench_plain' && pg_restore --exit-on-error -j '$JOBS' -d '$base/crm_bench_plain' '$file'")
unset SETUP
psql_admin -c 'DROP DATABASE IF EXISTS crm_bench_restored' -c 'DROP DATABASE IF EXISTS crm_bench_plain'

header "Backup and restore ($ROWS orders, $(du -h "$file" | cut -f1) archive)"
row "db backup (verified) vs pg_dump -Fc" "$crm_backup" "$crm_backup_kb" "$pg_dump_ms"
row "db restore --into --jobs $JOBS vs CREATE DATABASE + pg_restore -j $JOBS" "$crm_restore" "$crm_restore_kb" "$pg_restore_ms"

# The next section's data set fits on disk at ROWS=10000000 only once this one's is gone.
psql_admin -c 'DROP DATABASE crm_bench_backup'
