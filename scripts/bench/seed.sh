# The seed section: `crm db seed --scale ROWS` (the whole crm process, into a freshly migrated
# database each run) against psql generating a data set of the same shape with the orders
# section's SQL (ROWS customers, ROWS/100 products, ROWS orders of 1-5 items; foreign-key
# triggers on, no totalPurchases). Sourced by scripts/bench.sh (see there for what it gets).
#
# Each run takes about a minute at 1,000,000 rows: SEED_RUNS (default 3) replaces RUNS here.
RUNS=${SEED_RUNS:-3}
PRODUCTS=$(( ROWS / 100 > 0 ? ROWS / 100 : 1 ))
export CRM_SEED_PASSWORD=bench-seed-password CRM_BCRYPT_COST=10

GENERATE_SQL="
INSERT INTO \"Customers\" (\"firstName\", \"lastName\", \"email\", \"totalPurchases\", \"createdAt\", \"updatedAt\")
SELECT (ARRAY['Ada','Bruno','Chloé','Dmitri','Eve','Farah'])[1 + i % 6],
       (ARRAY['Smith','Jones','García','Müller','Nakamura','Okafor','Rossi'])[1 + (i / 6) % 7],
       'customer' || i || '@example.com', 0.00,
       timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00'
FROM generate_series(1, $ROWS) AS i;
INSERT INTO \"Products\" (\"name\", \"price\", \"stock\", \"category\", \"createdAt\", \"updatedAt\")
SELECT 'Product ' || i, ((i % 10000) + 99) / 100.0, i % 200, (ARRAY['books','tools','games','food'])[1 + i % 4],
       timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00'
FROM generate_series(1, $PRODUCTS) AS i;
INSERT INTO \"Orders\" (\"customerId\", \"status\", \"total\", \"createdAt\", \"updatedAt\")
SELECT 1 + (i::int8 * 7919) % $ROWS,
       (ARRAY['completed','completed','completed','completed','completed','completed',
              'pending','pending','processing','cancelled'])[1 + (i * 31) % 10],
       (SELECT sum((1 + (i + k) % 4) * (((1 + (i::int8 * 13 + k * 101) % $PRODUCTS) % 10000) + 99) / 100.0)
        FROM generate_series(1, 1 + i % 5) AS k)::numeric(10,2),
       timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00'
FROM generate_series(1, $ROWS) AS i;
INSERT INTO \"OrderItems\" (\"orderId\", \"productId\", \"quantity\", \"price\", \"createdAt\", \"updatedAt\")
SELECT o.i, 1 + (o.i::int8 * 13 + k * 101) % $PRODUCTS, 1 + (o.i + k) % 4,
       (((1 + (o.i::int8 * 13 + k * 101) % $PRODUCTS) % 10000) + 99) / 100.0,
       timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00'
FROM generate_series(1, $ROWS) AS o(i), generate_series(1, 1 + o.i % 5) AS k;"

echo "bench: db seed --scale $ROWS" >&2
SETUP='DB=$(new_db crm_bench_seed)'
read -r crm_seed crm_seed_kb < <(measure "$CRM" -q --database-url "$base/crm_bench_seed" db seed --scale "$ROWS")
"$CRM" -q --database-url "$base/crm_bench_seed" db check >/dev/null || { echo "bench: db check found violations after db seed --scale" >&2; exit 1; }
read -r psql_seed _ < <(measure psql -X -q -v ON_ERROR_STOP=1 "$base/crm_bench_seed" -c "$GENERATE_SQL")
unset SETUP

header "Seeds ($RUNS runs; other: psql generating the orders section's data set of the same size)"
row "db seed --scale $ROWS" "$crm_seed" "$crm_seed_kb" "$psql_seed"
