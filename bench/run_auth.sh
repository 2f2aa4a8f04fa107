#!/usr/bin/env bash
# Auth benchmark (`make bench-auth`): run by hand, never in CI. See docs/benchmarks.md.
#
# PostgreSQL + Redis + the production ASGI server (gunicorn with uvicorn workers, as the Dockerfile's
# CMD) on 127.0.0.1:8001, loaded by wrk from 127.0.0.1 only, each scenario bounded in time and
# connections. It
#   1. times Argon2id alone (production hasher and cost) while the machine is idle;
#   2. drops and creates the database `plinto_bench`, flushes Redis DB 9 (that DB only), migrates;
#   3. seeds bench users and sessions (bench/seed.py), and measures one request at a time in-process,
#      without a server (bench/inprocess.py), with the production settings and without the connection pool;
#   4. starts gunicorn with WEB_CONCURRENCY workers (default 2), waits for /health/ready;
#   5. runs the scenarios (bench/loadtest.py): /auth/me at 32 and 4 connections, refresh, sign-in,
#      measuring worker RSS, the CPU of wrk, workers, PostgreSQL and Redis;
#   6. prints the table, writes bench/results/auth-<time>.{json,txt};
#   7. stops gunicorn, drops the database and flushes Redis DB 9 — also on failure or Ctrl-C.
#
# Settings (environment): BENCH_DURATION (s per scenario, default 15, at most 120), BENCH_USERS (200),
# BENCH_PG (postgres://postgres@127.0.0.1:5432), BENCH_REDIS (redis://127.0.0.1:6379), BENCH_PORT (8001),
# WEB_CONCURRENCY (2), BENCH_WRK_THREADS (1), BENCH_SIGNIN_CONNECTIONS (8). BENCH_PROFILE=cpu (or 1) / wall attaches py-spy to every
# worker during the scenarios: on-CPU samples, or wall-clock samples including waits; BENCH_PROFILE=perf
# records the whole machine with `perf` instead (CPU by process and shared object, kernel included). The numbers of
# such a run are perturbed (py-spy needs CPU too); profiles and their text summaries (bench/profile_summary.py)
# land in bench/results/profile-<time>/. Other variables reach gunicorn unchanged (diagnostics such as
# DATABASE_POOL=0 or MALLOC_ARENA_MAX=2); the ones that matter are printed with the results.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
PORT=${BENCH_PORT:-8001}
URL="http://127.0.0.1:${PORT}"
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
REDIS_BASE=${BENCH_REDIS:-redis://127.0.0.1:6379}
DB_NAME=plinto_bench
DURATION=${BENCH_DURATION:-15}
USERS=${BENCH_USERS:-200}
WRK_THREADS=${BENCH_WRK_THREADS:-1}
export WEB_CONCURRENCY=${WEB_CONCURRENCY:-2}

die() { echo "bench-auth: $*" >&2; exit 1; }

# --- prerequisites: say what is missing, install nothing ---------------------------------------------
[ -x "$PY" ] || die "no .venv: run 'make install' first."
command -v wrk >/dev/null || die "wrk is not installed. Install Debian's package: 'apt-get install -y wrk' (as root), then run again."
[ -x "$ROOT/.venv/bin/gunicorn" ] || die "gunicorn is not in .venv: run 'make install'."
PROFILER=""
PROFILE_MODE=""
case "${BENCH_PROFILE:-0}" in
    0|"") ;;
    1|cpu) PROFILE_MODE=cpu ;;
    wall) PROFILE_MODE=wall ;;
    perf) PROFILE_MODE=perf ;;
    *) die "BENCH_PROFILE must be cpu (or 1), wall or perf." ;;
esac
if [ "$PROFILE_MODE" = perf ]; then
    PROFILER=$(command -v perf || true)
    [ -n "$PROFILER" ] || die "BENCH_PROFILE=perf needs perf (Debian: apt-get install -y linux-perf)."
elif [ -n "$PROFILE_MODE" ]; then
    PROFILER=${BENCH_PYSPY:-$(command -v py-spy || true)}
    [ -n "$PROFILER" ] && [ -x "$PROFILER" ] || die "BENCH_PROFILE needs py-spy (pip install py-spy, in a throwaway venv; set BENCH_PYSPY=/path/to/py-spy)."
fi
[ "$DURATION" -ge 5 ] && [ "$DURATION" -le 120 ] || die "BENCH_DURATION must be 5..120 seconds."
if "$PY" -c "import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(s.connect_ex(('127.0.0.1', $PORT)) != 0)"; then
    die "something already listens on 127.0.0.1:$PORT; stop it or set BENCH_PORT."
fi

WORK=$(mktemp -d /tmp/plinto-bench.XXXXXX)
STAMP=$(date -u +%Y%m%d-%H%M%S)
RESULTS="$ROOT/bench/results"
mkdir -p "$RESULTS"

# --- the production environment, pointed at the bench database and Redis DB 9 ------------------------
export DJANGO_SETTINGS_MODULE=plinto.settings.production
DJANGO_SECRET_KEY=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(50))')
FIELD_ENCRYPTION_KEYS=$("$PY" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')
export DJANGO_SECRET_KEY FIELD_ENCRYPTION_KEYS
export DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost
export DATABASE_URL="$PG_BASE/$DB_NAME"
export REDIS_URL="$REDIS_BASE/9"
export DJANGO_SECURE_SSL_REDIRECT=0 RATELIMIT_ENABLED=0 LOG_LEVEL=WARNING
export BENCH_PASSWORD="bench-$("$PY" -c 'import secrets; print(secrets.token_hex(8))')"

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

GUNICORN_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$GUNICORN_PID" ] && kill -0 "$GUNICORN_PID" 2>/dev/null; then
        kill -TERM "$GUNICORN_PID" 2>/dev/null || true
        for _ in $(seq 1 40); do kill -0 "$GUNICORN_PID" 2>/dev/null || break; sleep 0.25; done
        kill -KILL "$GUNICORN_PID" 2>/dev/null || true
        wait "$GUNICORN_PID" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ] && [ -s "$WORK/gunicorn.log" ]; then
        echo "--- last lines of the gunicorn log ---" >&2; tail -n 40 "$WORK/gunicorn.log" >&2
    fi
    [ -s "$WORK/gunicorn.log" ] && cp "$WORK/gunicorn.log" "$RESULTS/auth-$STAMP-gunicorn.log"
    db_admin "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" || echo "bench-auth: could not drop $DB_NAME" >&2
    redis_flush_bench_db || echo "bench-auth: could not flush Redis DB 9" >&2
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== machine: $(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -m | awk '/Mem:/ {print $2}') MiB RAM"

quiet() {  # this machine may be shared: wait (bounded) until it is nearly idle
    "$PY" -c "import sys; sys.path.insert(0, 'bench'); import loadtest; print(f'machine {loadtest.wait_for_quiet():.0f} % busy')"
}

echo "== Argon2id alone (idle machine)"
quiet
"$PY" bench/argon2_time.py 60 > "$WORK/argon2.json"
cat "$WORK/argon2.json"

echo "== database $DB_NAME (drop, create, migrate), Redis DB 9 (flush)"
db_admin "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)"
db_admin "CREATE DATABASE $DB_NAME"
redis_flush_bench_db
"$PY" manage.py migrate --noinput --verbosity 0

echo "== seed"
"$PY" bench/seed.py --users "$USERS" --sessions 256 --out "$WORK/tokens.json"

echo "== one request at a time, in-process (Django's WSGI handler, no server): production settings, then without the pool"
quiet
"$PY" bench/inprocess.py --tokens "$WORK/tokens.json" --label "production settings" > "$WORK/inprocess.jsonl"
DATABASE_POOL=0 DATABASE_CONN_MAX_AGE=0 "$PY" bench/inprocess.py --tokens "$WORK/tokens.json" --offset 20 \
    --label "no pool: a new connection per request (diagnostic)" >> "$WORK/inprocess.jsonl"
cat "$WORK/inprocess.jsonl"

echo "== gunicorn (as the Dockerfile's CMD, bound to 127.0.0.1:$PORT), $WEB_CONCURRENCY workers"
"$ROOT/.venv/bin/gunicorn" plinto.asgi:application -k uvicorn.workers.UvicornWorker \
    --bind "127.0.0.1:$PORT" --workers "${WEB_CONCURRENCY:-2}" > "$WORK/gunicorn.log" 2>&1 &
GUNICORN_PID=$!
"$PY" - "$URL/health/ready" "$GUNICORN_PID" <<'EOF'
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("gunicorn exited during start-up")
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.5)
sys.exit(f"{url} not ready after 60 s")
EOF
# Both workers must be up, not only the first one to answer.
for _ in $(seq 1 40); do
    [ "$(wc -w < "/proc/$GUNICORN_PID/task/$GUNICORN_PID/children")" -ge "$WEB_CONCURRENCY" ] && break; sleep 0.25
done
sleep 2

PROFILE_ARGS=()
if [ -n "$PROFILE_MODE" ]; then
    PROFILE_ARGS=(--profile-dir "$RESULTS/profile-$STAMP" --profiler "$PROFILER" --profile-mode "$PROFILE_MODE")
    echo "== PROFILING ($PROFILE_MODE): the numbers of this run are perturbed, do not report them as results"
fi
echo "== scenarios ($DURATION s each, wrk threads $WRK_THREADS); knobs: DATABASE_POOL=${DATABASE_POOL:-default} DATABASE_CONN_MAX_AGE=${DATABASE_CONN_MAX_AGE:-default}" \
     "MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-unset} PASSWORD_ARGON2_MEMORY_KIB=${PASSWORD_ARGON2_MEMORY_KIB:-default}" \
     "PASSWORD_ARGON2_TIME_COST=${PASSWORD_ARGON2_TIME_COST:-default}"
"$PY" bench/loadtest.py --url "$URL" --master-pid "$GUNICORN_PID" --tokens "$WORK/tokens.json" \
    --argon2 "$WORK/argon2.json" --password "$BENCH_PASSWORD" --workdir "$WORK" --database-url "$DATABASE_URL" \
    --inprocess "$WORK/inprocess.jsonl" \
    --duration "$DURATION" --threads "$WRK_THREADS" --signin-connections "${BENCH_SIGNIN_CONNECTIONS:-8}" --out "$RESULTS/auth-$STAMP.json" "${PROFILE_ARGS[@]}" \
    | tee "$RESULTS/auth-$STAMP.txt"
ERRORS=$(grep -ciE '"level": *"(error|critical)"|Traceback|\[(ERROR|CRITICAL)\]' "$WORK/gunicorn.log" || true)
echo "== error lines in the gunicorn log: $ERRORS (log kept as bench/results/auth-$STAMP-gunicorn.log)"
if [ -n "$PROFILE_MODE" ] && [ "$PROFILE_MODE" != perf ]; then
    for f in "$RESULTS/profile-$STAMP"/*-worker*.txt; do
        "$PY" bench/profile_summary.py "$f" > "${f%.txt}.summary"
    done
    echo "== profiles: $RESULTS/profile-$STAMP/ (*.summary: top frames as text)"
fi
