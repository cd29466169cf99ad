#!/usr/bin/env bash
# Rebuilds tests/fixtures/sequelize-app.sql: the database the original Gemini CRM application
# makes with its own tools (sequelize-cli db:migrate and db:seed:all, from
# ../shared/sequelize-app), on a throwaway cluster, dumped as plain SQL (schema and data) with
# pg_dump. The tests build their second template from that dump, so `cargo test` needs no Node.
# Needs: node and npm (the npm registry, the first time), PostgreSQL's server binaries.
# Usage: scripts/make-sequelize-fixture.sh [PATH/TO/sequelize-app]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
app_src=${1:-$root/../shared/sequelize-app}
[ -x "$app_src/make-database.sh" ] || { echo "make-sequelize-fixture: no make-database.sh in $app_src" >&2; exit 2; }
out=$root/tests/fixtures/sequelize-app.sql

WORK_PREFIX=crm-fixture SERVER_URL_VAR=CRM_FIXTURE_SERVER_URL
# shellcheck source=lib/cluster.sh
source "$here/lib/cluster.sh"

# make-database.sh writes node_modules/ beside itself: work on a copy.
cp -r "$app_src" "$work/app"
rm -rf "$work/app/node_modules"
chmod -R a+rX "$work"
db=gemini_crm
"$work/app/make-database.sh" "$base/$db" >&2

version() { node -p "require('$work/app/node_modules/$1/package.json').version"; }

# The dump holds no owner or privilege commands, so it loads as whichever role builds the template.
{
  echo "-- The database the Gemini CRM application makes with its own tools: made by"
  echo "-- scripts/make-sequelize-fixture.sh (sequelize-cli db:migrate and db:seed:all from"
  echo "-- ../shared/sequelize-app with sequelize-cli $(version sequelize-cli), sequelize $(version sequelize),"
  echo "-- pg $(version pg) and Node.js $(node --version)), then pg_dump --no-owner --no-privileges."
  echo "-- Do not edit by hand: run the script again."
  pg_dump --no-owner --no-privileges --dbname "$base/$db" | grep -v '^-- Dumped \(from\|by\)'
} >"$out.tmp"
mv "$out.tmp" "$out"
echo "make-sequelize-fixture: wrote ${out#"$root"/} ($(wc -l <"$out") lines)" >&2
