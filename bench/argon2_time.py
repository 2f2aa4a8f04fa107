"""Time Argon2id alone, with the production hasher and its configured cost, on an idle machine.

Prints one JSON line: the parameters, and the median / p10 / p90 in milliseconds of `make_password`
(hashing, as at sign-up) and of `check_password` (verifying, which is what every sign-in pays).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plinto.settings.production")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import check_password, get_hasher, make_password  # noqa: E402

from apps.accounts.hashers import argon2_parameters  # noqa: E402


def _quantiles(samples: list[float]) -> dict[str, float]:
    deciles = statistics.quantiles(samples, n=10)
    return {"median_ms": round(statistics.median(samples), 2), "p10_ms": round(deciles[0], 2),
            "p90_ms": round(deciles[-1], 2), "n": len(samples)}


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    password = "correct horse battery staple"  # noqa: S105 - a benchmark input, not a secret
    make_password(password)  # load the library, warm caches
    hash_ms, verify_ms = [], []
    encoded = ""
    for _ in range(iterations):
        t0 = time.perf_counter()
        encoded = make_password(password)
        hash_ms.append((time.perf_counter() - t0) * 1000)
    for _ in range(iterations):
        t0 = time.perf_counter()
        ok = check_password(password, encoded)
        verify_ms.append((time.perf_counter() - t0) * 1000)
        assert ok
    print(json.dumps({"hasher": type(get_hasher()).__name__, "params": argon2_parameters(),
                      "hash": _quantiles(hash_ms), "verify": _quantiles(verify_ms)}))


if __name__ == "__main__":
    main()
