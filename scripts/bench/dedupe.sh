# The duplicates section: `crm customers duplicates` on ROWS customers (the customers section's
# data set) with PLANTED duplicates of each rule planted among them (default ROWS / 1000 each),
# its time and peak memory, and its recall: how many planted pairs it finds, per rule.
# Sourced by scripts/bench.sh (see there for what a section gets). DEDUPE_RUNS (default 1) runs.
#
# Planted, for customer s of a spread of ids, a new customer that is its duplicate by one rule
# only:
#   email: s's e-mail upper-cased with blanks around it; another name, no phone;
#   phone: s's phone's digits written another way ('555-0001234'); another name, no e-mail;
#   name:  s's name with its first name's last letter doubled, and s's e-mail with an x before
#          the @ (an e-mail neighbour of the same domain with a similar local part); no phone.
PLANTED=${PLANTED:-$(( ROWS / 1000 > 0 ? ROWS / 1000 : 1 ))}
DB=$(new_db crm_bench_dedupe)

echo "bench: generating $ROWS customers and planting $PLANTED duplicates per rule" >&2
psql -X -q -v ON_ERROR_STOP=1 -v rows="$ROWS" "$DB" <<SQL
\i scripts/bench/customers-data.sql
-- Each planted customer's address names its rule and its original, read back below.
INSERT INTO "Customers" ("firstName", "lastName", "email", "phone", "address", "totalPurchases", "createdAt", "updatedAt")
SELECT CASE r.rule WHEN 'name' THEN c."firstName" || right(c."firstName", 1) ELSE 'Planted' END,
       CASE r.rule WHEN 'name' THEN c."lastName" ELSE r.rule || '-' || k END,
       CASE r.rule WHEN 'email' THEN ' ' || upper(c."email") || ' '
                   WHEN 'name' THEN replace(c."email", '@', 'x@') END,
       CASE r.rule WHEN 'phone' THEN '555-' || right(regexp_replace(c."phone", '\D', '', 'g'), 7) END,
       'planted ' || r.rule || ' ' || c."id", 0.00, now(), now()
FROM generate_series(0, $PLANTED - 1) AS k
CROSS JOIN
  (VALUES ('email', 0), ('phone', 1), ('name', 2)) AS r(rule, shift)
JOIN "Customers" c ON c."id" = (k * ($ROWS / $PLANTED) + r.shift) % $ROWS + 1;
CREATE TABLE bench_planted AS
SELECT split_part("address", ' ', 2) AS "rule", split_part("address", ' ', 3)::int4 AS "original",
       "id" AS "duplicate"
FROM "Customers" WHERE "address" LIKE 'planted %';
VACUUM ANALYZE "Customers";
SQL

echo "bench: duplicates" >&2
read -r crm_dups crm_dups_kb < <(RUNS=${DEDUPE_RUNS:-1} measure "$CRM" -q --database-url "$DB" customers duplicates -o csv)
"$CRM" -q --database-url "$DB" customers duplicates -o csv > "$work/duplicates.csv"

recall=$(psql -X -q -A -t -v ON_ERROR_STOP=1 "$DB" <<SQL
CREATE TEMP TABLE found ("group" int8, "customerId" int4, "score" numeric, "reasons" text,
                         "firstName" text, "lastName" text, "email" text, "phone" text);
\copy found FROM '$work/duplicates.csv' CSV HEADER
SELECT string_agg(format('%s %s of %s', rule, hits, total), ', ' ORDER BY rule)
FROM (SELECT p.rule, count(*) AS total,
             count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM found a JOIN found b ON a."group" = b."group"
               WHERE a."customerId" = least(p.original, p.duplicate)
                 AND b."customerId" = greatest(p.original, p.duplicate))) AS hits
      FROM bench_planted p GROUP BY p.rule) s;
SELECT format('%s candidates in %s groups', count(*) FILTER (WHERE "score" IS NOT NULL),
              count(DISTINCT "group")) FROM found;
SQL
)

echo
echo "### Duplicates ($ROWS customers, $PLANTED planted per rule)"
echo
echo "$ROWS customers; $(( ${DEDUPE_RUNS:-1} )) run(s); $(nproc) cores; $(date -u +%Y-%m-%d)"
echo
echo "| command | crm | crm peak RSS | planted pairs found | found in all |"
echo "| --- | --- | --- | --- | --- |"
printf '| customers duplicates (all rules) | %s ms | %s MB | %s | %s |\n' \
  "$crm_dups" "$(( crm_dups_kb / 1024 ))" "$(echo "$recall" | sed -n 1p)" "$(echo "$recall" | sed -n 2p)"
