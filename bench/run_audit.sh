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
BENCH=audit
DB_NAME=plinto_audit_bench
REDIS_DB=12
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

source "$ROOT/bench/common.sh"

bench() { timeout --kill-after=30 "$1" "$PY" bench/audit_bench.py "${@:2}"; }  # every step bounded in time

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
