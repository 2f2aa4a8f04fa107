"""Summarise a py-spy raw profile (collapsed stacks, recorded with --threads) as text.

    python bench/profile_summary.py bench/results/profile-…/me-cpu-worker0.txt [--top 20]

Prints the share of samples per kind of thread (the event loop, asgiref's per-request executor
threads that run Django, the threads that join those executors), then, for the Django threads:
inclusive shares of the parts of a request that matter here (database connect, SQL, Redis, Argon2,
JWT, audit chain…), the top functions by self time and by inclusive time. Line numbers are dropped,
so a function counts once per stack. Standard library only.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# (label, regex on a frame "function (file)"): inclusive share of the Django threads' samples.
PARTS = [
    ("Django request (whole middleware chain)", r"^convert_exception_to_response\.<locals>\.inner \(django/"),
    ("DRF view dispatch", r"^APIView\.dispatch \(rest_framework/views\.py\)"),
    ("DB: connect (new, or from the pool)", r"^BaseDatabaseWrapper\.connect \(django/db/backends/base/"),
    ("DB: close the connection", r"^BaseDatabaseWrapper\.close \(django/db/backends/base/"),
    ("DB: SQL statements (CursorWrapper.execute)", r"^CursorWrapper\._execute \(django/db/backends/utils\.py\)"),
    ("DB: commit", r"^BaseDatabaseWrapper\.commit \("),
    ("Redis (any command)", r"^Redis\.execute_command \(redis/client\.py\)"),
    ("Argon2 verify", r"^verify_secret \(argon2/"),
    ("Argon2 hash", r"^hash_secret \(argon2/"),
    ("JWT sign (ES256)", r"^ECAlgorithm\.sign \(jwt/"),
    ("JWT verify (ES256)", r"^ECAlgorithm\.verify \(jwt/"),
    ("access_token_issue", r"^access_token_issue \(apps/"),
    ("access_token_verify", r"^access_token_verify \(apps/"),
    ("signing_key_current (DB read per token)", r"^signing_key_current \(apps/"),
    ("audit emit (hash chain)", r"^emit \(apps/audit/services\.py\)"),
    ("session_start", r"^session_start \(apps/"),
    ("session_refresh", r"^session_refresh \(apps/"),
    ("session_is_active", r"^session_is_active \(apps/"),
    ("session_touch", r"^session_touch \(apps/"),
    ("lockout_check + lockout_clear", r"^lockout_(check|clear) \(apps/"),
    ("user agent parsing", r"^device_from_user_agent \(apps/"),
    ("UserSerializer (user_profile: e-mail verified, MFA status)", r"^UserSerializer\.to_representation \(apps/"),
    ("MFA: second-factor gate at sign-in", r"^second_factor_challenge \(apps/"),
    ("MFA: mfa_enabled (5 factor tables)", r"^mfa_enabled \(apps/"),
    ("Prometheus middleware", r"^Prometheus(Before|After)Middleware\.process_"),
    ("logging", r"\(logging/__init__\.py\)"),
]

FRAME_LINE = re.compile(r":\d+\)$")


def thread_kind(head: str) -> str:
    if "MainThread" in head:
        return "event loop (MainThread: uvicorn, asyncio, ASGI glue)"
    if "ThreadPoolExecutor" in head:
        return "Django (asgiref per-request executor threads)"
    if "(join)" in head:
        return "asgiref executor join threads"
    return "other / unnamed threads"


def normalise(frame: str) -> str:
    return FRAME_LINE.sub(")", frame)


def summarise(path: Path, top: int) -> str:
    kinds: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    parts: Counter[str] = Counter()
    django_total = 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = stack.split(";")
        kind = thread_kind(frames[0])
        kinds[kind] += n
        # Executor threads whose name py-spy missed still run Django's handler: classify by content.
        if kind.startswith("other") and "SyncToAsync.thread_handler (asgiref/sync.py" in stack:
            kinds[kind] -= n
            kind = "Django (asgiref per-request executor threads)"
            kinds[kind] += n
        if not kind.startswith("Django"):
            continue
        django_total += n
        body = [normalise(f) for f in frames[1:]]
        if body:
            self_time[body[-1]] += n
        for frame in set(body):
            inclusive[frame] += n
        for label, pattern in PARTS:
            if any(re.search(pattern, f) for f in body):
                parts[label] += n
    total = sum(kinds.values()) or 1
    out = [f"# {path.name}: {total} samples"]
    out += [f"{100 * c / total:6.1f} %  {k}" for k, c in kinds.most_common()]
    if not django_total:
        return "\n".join(out)
    out += ["", f"## Django threads: {django_total} samples = 100 %", "### parts of the request (inclusive)"]
    out += [f"{100 * parts[label] / django_total:6.1f} %  {label}" for label, _ in PARTS if parts[label]]
    out += ["", "### top functions by self time"]
    out += [f"{100 * c / django_total:6.1f} %  {f}" for f, c in self_time.most_common(top)]
    out += ["", "### top functions by inclusive time (apps/, django/db, psycopg, redis, argon2, jwt, DRF views)"]
    interesting = re.compile(r"\((apps/|django/db/|psycopg/|redis/|django_redis/|argon2/|jwt/|rest_framework/views)")
    shown = 0
    for frame, c in inclusive.most_common():
        if interesting.search(frame):
            out.append(f"{100 * c / django_total:6.1f} %  {frame}")
            shown += 1
            if shown >= top:
                break
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=20)
    ns = parser.parse_args()
    print(summarise(ns.profile, ns.top))


if __name__ == "__main__":
    main()
