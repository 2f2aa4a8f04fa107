"""Seed the benchmark database: bench users, plus sessions whose tokens the wrk scripts use.

Run by bench/run_auth.sh with DJANGO_SETTINGS_MODULE=plinto.settings.production and the bench
environment (dedicated database `plinto_bench`, Redis DB 9). No management command: plain Django.

    python bench/seed.py --users 200 --sessions 256 --out /tmp/x/tokens.json

Users are bench-00000@bench.plinto.test … with the password in BENCH_PASSWORD. Every user gets a
verified allauth e-mail address (as after sign-up and verification). Each user's password is hashed
with the production hasher (Argon2id, OWASP cost) — one hash per user, as a real sign-up makes.
Sessions are opened with the same service a sign-in uses (`session_start`), so their refresh and
access tokens are real ones; the JSON file lists them for the refresh and /auth/me scenarios.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plinto.settings.production")

import django  # noqa: E402

django.setup()

from allauth.account.models import EmailAddress  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import transaction  # noqa: E402

from apps.accounts.models import User  # noqa: E402
from apps.accounts.services.sessions import session_start  # noqa: E402
from apps.accounts.services.tokens import signing_key_current  # noqa: E402

EMAIL_FORMAT = "bench-{:05d}@bench.plinto.test"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=256, help="sessions (token pairs) to open")
    parser.add_argument("--out", required=True, help="JSON file for the tokens")
    args = parser.parse_args()
    password = os.environ["BENCH_PASSWORD"]

    started = time.monotonic()
    # argon2-cffi releases the GIL while hashing: two threads use both cores.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        hashes = list(pool.map(lambda _: make_password(password), range(args.users)))
    users = [User(email=EMAIL_FORMAT.format(i), password=hashes[i], first_name="Bench", last_name=f"User {i}")
             for i in range(args.users)]
    with transaction.atomic():
        User.objects.bulk_create(users)
        EmailAddress.objects.bulk_create(
            [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users])
    signing_key_current()  # the first token creates the signing key; do it once, here

    sessions = []
    for i in range(args.sessions):
        user = users[i % len(users)]
        _, tokens = session_start(user=user, amr=["pwd"])
        sessions.append({"email": user.email, "access_token": tokens.access_token,
                         "refresh_token": tokens.refresh_token})
    Path(args.out).write_text(json.dumps({"users": args.users, "email_format": EMAIL_FORMAT,
                                          "sessions": sessions}))
    print(f"seeded {args.users} users and {args.sessions} sessions in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
