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
BENCH=rbac
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

source "$ROOT/bench/common.sh"

bench() { timeout --kill-after=30 "$1" "$PY" bench/rbac_bench.py "${@:2}"; }  # every step bounded in time

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
