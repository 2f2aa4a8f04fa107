#!/usr/bin/env bash
# Access-control benchmark (`make bench-rbac`): run by hand, never in CI. See docs/benchmarks.md, "Access control".
#
#   1. drops and creates the database `plinto_rbac_bench`, flushes Redis DB 13 (that DB only), migrates it
#      with the production settings;
#   2. seeds one organization with ~500 members, 50 custom roles, 20 teams, 200 policies (half with a CEL
#      condition) and 10,000 object grants, plus a few noise organizations, by bulk_create
#      (bench/rbac_bench.py seed);
#   3. times, in-process, with a fixed number of repetitions each: decide() with a Caller built once (warm),
#      user_caller() + decide() (warm, per request), the same after cache.bump() (cold) and after clearing the
#      in-process cache only; then each component of the cold path and cProfile of the slow paths
#      (bench/rbac_bench.py measure);
#   4. prints the table vs the targets, writes bench/results/rbac-<time>.{txt,json} and -profile.txt;
#   5. drops the database (unless KEEP=1) and flushes Redis DB 13 — also on failure or Ctrl-C.
#
# Settings (environment): KEEP=1 keeps the database; BENCH_RBAC_WARM_REPS (20000, at most 200000),
# BENCH_RBAC_COLD_REPS (300, at most 3000), BENCH_PG (postgres://postgres@127.0.0.1:5432),
# BENCH_REDIS (redis://127.0.0.1:6379).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
REDIS_BASE=${BENCH_REDIS:-redis://127.0.0.1:6379}
DB_NAME=plinto_rbac_bench
REDIS_DB=13
WARM_REPS=${BENCH_RBAC_WARM_REPS:-20000}
COLD_REPS=${BENCH_RBAC_COLD_REPS:-300}

die() { echo "bench-rbac: $*" >&2; exit 1; }
[ -x "$PY" ] || die "no .venv: run 'make install' first."
case "$PG_BASE$REDIS_BASE" in
    *127.0.0.1*127.0.0.1*) ;;
    *) die "BENCH_PG and BENCH_REDIS must point at 127.0.0.1." ;;
esac
[ "$WARM_REPS" -ge 1000 ] && [ "$WARM_REPS" -le 200000 ] || die "BENCH_RBAC_WARM_REPS must be 1000..200000."
[ "$COLD_REPS" -ge 50 ] && [ "$COLD_REPS" -le 3000 ] || die "BENCH_RBAC_COLD_REPS must be 50..3000."
REQUEST_REPS=$(( WARM_REPS / 5 > 1000 ? WARM_REPS / 5 : 1000 ))

WORK=$(mktemp -d /tmp/plinto-rbac-bench.XXXXXX)
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
        echo "bench-rbac: KEEP=1, database $DB_NAME kept (drop it with: DROP DATABASE $DB_NAME)" >&2
    else
        db_admin "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" || echo "bench-rbac: could not drop $DB_NAME" >&2
    fi
    redis_flush_bench_db || echo "bench-rbac: could not flush Redis DB $REDIS_DB" >&2
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench() { timeout --kill-after=30 "$1" "$PY" bench/rbac_bench.py "${@:2}"; }  # every step bounded in time

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

echo "== database $DB_NAME (drop, create, migrate), Redis DB $REDIS_DB (flush)"
db_admin "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)"
db_admin "CREATE DATABASE $DB_NAME"
redis_flush_bench_db
"$PY" manage.py migrate --noinput --verbosity 0

echo "== seed: one organization (500 members, 50 roles, 20 teams, 200 policies, 10,000 grants) + noise (bulk_create)"
bench 600 seed --out "$WORK/seed.json"

echo "== measure: warm ($WARM_REPS reps), per request ($REQUEST_REPS), cold ($COLD_REPS), components, profiles"
bench 1200 measure --warm-reps "$WARM_REPS" --request-reps "$REQUEST_REPS" --cold-reps "$COLD_REPS" \
    --out "$WORK/measure.json" --profile "$RESULTS/rbac-$STAMP-profile.txt"

echo "== results"
"$PY" bench/rbac_bench.py report --work "$WORK" --out "$RESULTS/rbac-$STAMP"
echo "== written: bench/results/rbac-$STAMP.{txt,json}, rbac-$STAMP-profile.txt"
