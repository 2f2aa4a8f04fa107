#!/usr/bin/env bash
# Audit trail benchmark (`make bench-audit`): run by hand, never in CI. See docs/benchmarks.md, "Audit trail".
#
#   1. drops and creates the database `plinto_audit_bench`, flushes Redis DB 12 (that DB only), migrates
#      it with the production settings;
#   2. loads 1,000,000 events for one organization and ~200,000 over 20 others, as valid hash chains
#      (event_hash in Python, COPY into PostgreSQL), then VACUUM ANALYZE (bench/audit_bench.py load);
#   3. checks that the chains verify (bench/audit_bench.py verify);
#   4. times the first page of each filter through event_list + event_page, in-process, and keeps
#      EXPLAIN (ANALYZE, BUFFERS) of each (bench/audit_bench.py query);
#   5. times the full CSV and JSONL exports into /dev/null, each in its own process (peak RSS), then
#      profiles each on the newest 50,000 events (cProfile, and reading alone vs the whole export);
#   6. prints the table vs the targets, writes bench/results/audit-<time>.{txt,json}, -explain.txt and
#      -profile-{csv,jsonl}.txt;
#   7. drops the database (unless KEEP=1) and flushes Redis DB 12 — also on failure or Ctrl-C.
#
# Settings (environment): KEEP=1 keeps the database; BENCH_AUDIT_EVENTS (1000000), BENCH_AUDIT_NOISE (200000),
# BENCH_AUDIT_REPS (60, at most 500), BENCH_PG (postgres://postgres@127.0.0.1:5432),
# BENCH_REDIS (redis://127.0.0.1:6379), BENCH_AUDIT_VERIFY_FULL=1 (chain_verify the 1M chain too, ~1 min more).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
REDIS_BASE=${BENCH_REDIS:-redis://127.0.0.1:6379}
DB_NAME=plinto_audit_bench
EVENTS=${BENCH_AUDIT_EVENTS:-1000000}
NOISE=${BENCH_AUDIT_NOISE:-200000}
REPS=${BENCH_AUDIT_REPS:-60}

die() { echo "bench-audit: $*" >&2; exit 1; }
[ -x "$PY" ] || die "no .venv: run 'make install' first."
case "$PG_BASE$REDIS_BASE" in
    *127.0.0.1*127.0.0.1*) ;;
    *) die "BENCH_PG and BENCH_REDIS must point at 127.0.0.1." ;;
esac
[ "$EVENTS" -ge 1000 ] && [ "$EVENTS" -le 5000000 ] || die "BENCH_AUDIT_EVENTS must be 1000..5000000."
[ "$NOISE" -ge 4000 ] && [ "$NOISE" -le 5000000 ] || die "BENCH_AUDIT_NOISE must be 4000..5000000."
[ "$REPS" -ge 20 ] && [ "$REPS" -le 500 ] || die "BENCH_AUDIT_REPS must be 20..500."

WORK=$(mktemp -d /tmp/plinto-audit-bench.XXXXXX)
STAMP=$(date -u +%Y%m%d-%H%M%S)
RESULTS="$ROOT/bench/results"
mkdir -p "$RESULTS"

export DJANGO_SETTINGS_MODULE=plinto.settings.production
DJANGO_SECRET_KEY=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(50))')
FIELD_ENCRYPTION_KEYS=$("$PY" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')
export DJANGO_SECRET_KEY FIELD_ENCRYPTION_KEYS
export DJANGO_ALLOWED_HOSTS=127.0.0.1
export DATABASE_URL="$PG_BASE/$DB_NAME"
export REDIS_URL="$REDIS_BASE/12"
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
        echo "bench-audit: KEEP=1, database $DB_NAME kept (drop it with: DROP DATABASE $DB_NAME)" >&2
    else
        db_admin "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" || echo "bench-audit: could not drop $DB_NAME" >&2
    fi
    redis_flush_bench_db || echo "bench-audit: could not flush Redis DB 12" >&2
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench() { timeout --kill-after=30 "$1" "$PY" bench/audit_bench.py "${@:2}"; }  # every step bounded in time

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

echo "== database $DB_NAME (drop, create, migrate), Redis DB 12 (flush)"
db_admin "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)"
db_admin "CREATE DATABASE $DB_NAME"
redis_flush_bench_db
"$PY" manage.py migrate --noinput --verbosity 0

echo "== load: $EVENTS events for one organization, $NOISE over 20 others (COPY)"
bench 1200 load --events "$EVENTS" --noise-events "$NOISE" --out "$WORK/load.json"

echo "== verify the loaded chains"
VERIFY_ARGS=()
[ "${BENCH_AUDIT_VERIFY_FULL:-0}" = 1 ] && VERIFY_ARGS=(--full)
bench 600 verify --out "$WORK/verify.json" "${VERIFY_ARGS[@]}"

echo "== first page per filter ($REPS reps each, warm, in-process)"
bench 900 query --reps "$REPS" --out "$WORK/query.json" --explain "$RESULTS/audit-$STAMP-explain.txt"

PROFILE_EVENTS=$(( EVENTS / 2 < 50000 ? EVENTS / 2 : 50000 ))
for FORMAT in csv jsonl; do
    echo "== export: the whole trail as $FORMAT into /dev/null (own process), then a profile of $PROFILE_EVENTS events"
    bench 900 export --format "$FORMAT" --out "$WORK/export-$FORMAT.json" \
        --profile-events "$PROFILE_EVENTS" --profile "$RESULTS/audit-$STAMP-profile-$FORMAT.txt"
done

echo "== results"
"$PY" bench/audit_bench.py report --work "$WORK" --out "$RESULTS/audit-$STAMP"
echo "== written: bench/results/audit-$STAMP.{txt,json}, audit-$STAMP-explain.txt, audit-$STAMP-profile-{csv,jsonl}.txt"
