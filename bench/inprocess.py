"""The cost of one request in the application alone: no server, no ASGI, one thread, an idle machine.

Runs each endpoint sequentially through Django's WSGI handler (the same middleware and views,
without uvicorn, asgiref's thread hops or concurrency) and measures per request: wall time, this
process's CPU time and PostgreSQL's CPU time (every postgres process, including the backends that
exited, read from /proc). Run twice by bench/run_auth.sh: with the production settings (a psycopg
connection pool per process) and with DATABASE_POOL=0 (a new PostgreSQL connection per request),
which shows what connecting costs. Prints one JSON line.

    python bench/inprocess.py --tokens tokens.json --label default
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plinto.settings.production")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from loadtest import TICKS, group_cpu_ticks  # noqa: E402

FIRST_SESSION = 200  # sessions 0..199 of the seed are the load test's
HOST = "127.0.0.1"


def call(handler: WSGIHandler, environ: dict) -> tuple[int, bytes]:
    status: list[str] = []
    body_iter = handler(environ, lambda s, h, exc_info=None: status.append(s))
    body = b"".join(body_iter)
    body_iter.close()  # fires request_finished: Django closes the connection unless it is persistent
    return int(status[0].split()[0]), body


def build_environ(factory: RequestFactory, spec: dict, refresh_token: str | None) -> dict:
    if refresh_token is not None:
        return factory.post("/api/v1/auth/refresh", data=json.dumps({"refresh_token": refresh_token}),
                            content_type="application/json").environ
    if spec["method"] == "POST":
        return factory.post(spec["path"], data=json.dumps(spec["json"]), content_type="application/json").environ
    return factory.get(spec["path"], HTTP_AUTHORIZATION=spec["auth"]).environ


def measure(requests: list[dict], handler: WSGIHandler, chain_refresh: bool = False) -> dict:
    """Run the requests in order; with chain_refresh, each refresh uses the token the previous one returned."""
    wall, cpu, pg = [], [], []
    statuses: dict[str, int] = {}
    token = requests[0].get("refresh_token") if chain_refresh else None
    factory = RequestFactory(HTTP_HOST=HOST)
    for spec in requests:
        environ = build_environ(factory, spec, token)
        pg0, cpu0, t0 = group_cpu_ticks("postgres"), time.process_time(), time.perf_counter()
        status, body = call(handler, environ)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - cpu0) * 1000)
        pg.append((group_cpu_ticks("postgres") - pg0) / TICKS * 1000)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if chain_refresh and status == 200:
            token = json.loads(body)["tokens"]["refresh_token"]
    # One more request, counting its SQL statements (transaction control included).
    with CaptureQueriesContext(connection) as queries:
        status, body = call(handler, build_environ(factory, requests[-1], token))
    return {"n": len(requests), "status": statuses, "sql_statements": len(queries.captured_queries),
            "sql_count_status": status, "wall_ms_median": round(statistics.median(wall), 2),
            "wall_ms_mean": round(statistics.mean(wall), 2), "cpu_ms_mean": round(statistics.mean(cpu), 2),
            "postgres_cpu_ms_mean": round(statistics.mean(pg), 2)}


def connection_mode() -> str:
    db = settings.DATABASES["default"]
    if db.get("OPTIONS", {}).get("pool"):
        return f"psycopg pool {db['OPTIONS']['pool']}"
    return "persistent connection" if db.get("CONN_MAX_AGE") != 0 else "new connection per request"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--offset", type=int, default=0, help="which seeded session to start from")
    ns = parser.parse_args()
    seed = json.loads(Path(ns.tokens).read_text())
    sessions = seed["sessions"][FIRST_SESSION + ns.offset:]
    password = os.environ["BENCH_PASSWORD"]
    handler = WSGIHandler()
    me = [{"method": "GET", "path": "/api/v1/auth/me", "auth": f"Bearer {sessions[i % 8]['access_token']}"}
          for i in range(300)]
    signin = [{"method": "POST", "path": "/api/v1/auth/signin",
               "json": {"email": seed["email_format"].format(i % seed["users"]), "password": password}}
              for i in range(60)]
    refresh = [{"refresh_token": sessions[10]["refresh_token"]}] * 200
    measure(me[:20], handler)
    result = {
        "label": f"{ns.label} ({connection_mode()})",
        "me": measure(me, handler),
        "refresh": measure(refresh, handler, chain_refresh=True),
        "signin": measure(signin, handler),
    }
    connection.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
