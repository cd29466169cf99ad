#!/usr/bin/env bash
# crm's benchmarks, measured side by side with psql in one run on this machine, as medians and
# ratios (never absolute times asserted in tests: machines are shared and noisy).
#
#   scripts/bench.sh            # every section: 1,000,000 rows, 7 runs each
#   ROWS=100000 RUNS=3 scripts/bench.sh
#   scripts/bench.sh customers  # only the sections named (files under scripts/bench/)
#   CRM_BENCH_DATABASE_URL=postgresql://postgres@host/postgres scripts/bench.sh   # an existing server
#
# It builds crm in release mode, starts a throwaway PostgreSQL cluster (as the postgres account
# when run as root), generates the data set with SQL (reproducibly: the same rows every run), and
# prints a Markdown table per section for README's Performance section.
#
# Each section is a file scripts/bench/NAME.sh, sourced here in a subshell after the set-up, with:
#   $CRM (release binary), $ADMIN_URL (superuser URL, database postgres), $base (URL without the
#   database), $work (scratch folder, removed at exit), $ROWS, $RUNS, and the functions
#   new_db NAME (a fresh migrated database; prints its URL), measure, ratio, row, header.
set -euo pipefail
cd "$(dirname "$0")/.."

# Keep psql's NOTICEs (TRUNCATE ... CASCADE) out of the report.
export PGOPTIONS='-c client_min_messages=warning'
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-7}

command -v /usr/bin/time >/dev/null || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 1; }
cargo build --release -q
CRM="$PWD/target/release/crm"

WORK_PREFIX=crm-bench SERVER_URL_VAR=CRM_BENCH_DATABASE_URL
# shellcheck source=lib/cluster.sh
source scripts/lib/cluster.sh
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 "$ADMIN_URL" "$@"; }

# new_db NAME: (re)creates database NAME, migrated by crm; prints its URL.
new_db() {
  psql_admin -c "DROP DATABASE IF EXISTS \"$1\"" -c "CREATE DATABASE \"$1\"" >&2
  "$CRM" -q --database-url "$base/$1" db migrate >&2
  echo "$base/$1"
}

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

# header TITLE: the start of a section's table.
header() {
  echo
  echo "### $1"
  echo
  echo "$ROWS rows; median of $RUNS runs; $(nproc) cores; $(date -u +%Y-%m-%d)"
  echo
  echo "| command | crm | crm peak RSS | other | crm / other |"
  echo "| --- | --- | --- | --- | --- |"
}

sections=("$@")
if [ ${#sections[@]} -eq 0 ]; then
  for f in scripts/bench/*.sh; do sections+=("$(basename "$f" .sh)"); done
fi
for section in "${sections[@]}"; do
  [ -f "scripts/bench/$section.sh" ] || { echo "bench: no section scripts/bench/$section.sh" >&2; exit 2; }
  echo "bench: section $section" >&2
  ( source "scripts/bench/$section.sh" )
done
