"""Helpers shared by the benchmarks (bench/*_bench.py): the machine's load, which code was measured,
percentiles. Standard library only; imported as `benchlib` (the scripts run from bench/)."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def wait_for_quiet(limit_s: float = 30.0, busy_below: float = 0.5) -> float:
    """Bounded: wait up to `limit_s` for a second in which the machine is less than `busy_below` busy."""
    deadline = time.monotonic() + limit_s
    share = 1.0
    while time.monotonic() < deadline:
        b0, t0 = cpu_ticks()
        time.sleep(1.0)
        b1, t1 = cpu_ticks()
        share = (b1 - b0) / max(1, t1 - t0)
        if share < busy_below:
            break
    return share


def source_version(*paths: str) -> dict[str, str]:
    """Which code was measured: other work edits these files while benchmarks run."""
    out = {}
    for path in paths:
        f = BASE_DIR / path
        stamp = datetime.fromtimestamp(f.stat().st_mtime, UTC).strftime("%H:%M:%S")
        out[path] = f"sha256 {hashlib.sha256(f.read_bytes()).hexdigest()[:12]}, modified {stamp} UTC"
    return out


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest rank."""
    k = max(0, min(len(sorted_values) - 1, int(-(-p * len(sorted_values) // 100)) - 1))
    return sorted_values[k]
