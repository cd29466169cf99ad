# The seed section: `crm db seed --scale ROWS` (the whole crm process, into a freshly migrated
# database each run) against psql generating a data set of the same shape with the orders
# section's SQL, scripts/bench/orders-data.sql (ROWS customers, ROWS/100 products, ROWS orders
# of 1-5 items; foreign-key triggers on, no totalPurchases, and a VACUUM ANALYZE at the end).
# Sourced by scripts/bench.sh (see there for what it gets).
#
# Each run takes about a minute at 1,000,000 rows: SEED_RUNS (default 3) replaces RUNS here.
RUNS=${SEED_RUNS:-3}
PRODUCTS=$(( ROWS / 100 > 0 ? ROWS / 100 : 1 ))
export CRM_SEED_PASSWORD=bench-seed-password CRM_BCRYPT_COST=10


echo "bench: db seed --scale $ROWS" >&2
SETUP='DB=$(new_db crm_bench_seed)'
read -r crm_seed crm_seed_kb < <(measure "$CRM" -q --database-url "$base/crm_bench_seed" db seed --scale "$ROWS")
"$CRM" -q --database-url "$base/crm_bench_seed" db check >/dev/null || { echo "bench: db check found violations after db seed --scale" >&2; exit 1; }
read -r psql_seed _ < <(measure psql -X -q -v ON_ERROR_STOP=1 -v rows="$ROWS" -v products="$PRODUCTS" \
  "$base/crm_bench_seed" -f scripts/bench/orders-data.sql)
unset SETUP

header "Seeds ($RUNS runs; other: psql generating the orders section's data set of the same size)"
row "db seed --scale $ROWS" "$crm_seed" "$crm_seed_kb" "$psql_seed"

# The next section's data set fits on disk at ROWS=10000000 only once this one's is gone.
psql_admin -c 'DROP DATABASE crm_bench_seed'
