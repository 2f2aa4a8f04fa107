# Shared by bench/run_*.sh (sourced): a work directory, production settings pointed at the benchmark's own
# database and Redis DB, helpers to create/drop them, a cleanup trap, and the machine's description.
# The caller sets ROOT, PY, PG_BASE, REDIS_BASE, BENCH (a name), DB_NAME and REDIS_DB first.

WORK=$(mktemp -d /tmp/plinto-$BENCH-bench.XXXXXX)
STAMP=$(date -u +%Y%m%d-%H%M%S)
RESULTS="$ROOT/bench/results"
mkdir -p "$RESULTS"

export DJANGO_SETTINGS_MODULE=plinto.settings.production
DJANGO_SECRET_KEY=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(50))')
FIELD_ENCRYPTION_KEYS=$("$PY" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')
export DJANGO_SECRET_KEY FIELD_ENCRYPTION_KEYS
export DJANGO_ALLOWED_HOSTS=127.0.0.1
export DATABASE_URL="$PG_BASE/$DB_NAME"
export REDIS_URL="$REDIS_BASE/$REDIS_DB"
export DATABASE_POOL=0 LOG_LEVEL=WARNING

db_admin() {  # $1: SQL run on the maintenance database, autocommit (CREATE/DROP DATABASE)
    "$PY" - "$PG_BASE/postgres" "$1" <<'EOF'
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True, connect_timeout=5) as conn:
    conn.execute(sys.argv[2])
EOF
}
redis_flush_bench_db() {
    "$PY" -c "import redis, sys; redis.Redis.from_url(sys.argv[1], socket_timeout=5).flushdb()" "$REDIS_URL"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "${KEEP:-0}" = 1 ]; then
        echo "bench-$BENCH: KEEP=1, database $DB_NAME kept (drop it with: DROP DATABASE $DB_NAME)" >&2
    else
        db_admin "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" || echo "bench-$BENCH: could not drop $DB_NAME" >&2
    fi
    redis_flush_bench_db || echo "bench-$BENCH: could not flush Redis DB $REDIS_DB" >&2
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$PY" - "$WORK/machine.json" "$STAMP" <<'EOF'
import json, os, subprocess, sys
cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
ram = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))) // 1024
info = {"stamp": sys.argv[2], "nproc": os.cpu_count(), "cpu": cpu, "ram_mib": ram,
        "loadavg_start": " ".join(open("/proc/loadavg").read().split()[:3]),
        "python": sys.version.split()[0]}
json.dump(info, open(sys.argv[1], "w"))
print(f"== machine: {info['nproc']} vCPU, {cpu}, {ram} MiB RAM, loadavg {info['loadavg_start']}")
EOF
