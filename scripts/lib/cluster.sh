# A throwaway PostgreSQL cluster for scripts/bench.sh and scripts/soak.sh, sourced by them.
# In: $WORK_PREFIX (name of the scratch folder), $SERVER_URL_VAR (the variable that names an
# existing server instead, e.g. CRM_BENCH_DATABASE_URL). Out: $work (scratch folder, removed at
# exit with the cluster), $ADMIN_URL (superuser URL, database postgres), $base (without the
# database), as_server.
work=$(mktemp -d "/tmp/${WORK_PREFIX}.XXXXXX")
chmod 755 "$work"
cleanup() {
  if [ -n "${PGDATA_DIR:-}" ]; then as_server pg_ctl -D "$PGDATA_DIR" stop -m immediate >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

as_server() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ -z "${!SERVER_URL_VAR:-}" ]; then
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
  ADMIN_URL=${!SERVER_URL_VAR}
fi
base=${ADMIN_URL%/*}
