"""Drive the auth scenarios with wrk against a running gunicorn, and measure around them.

Called by bench/run_auth.sh once gunicorn answers /health/ready. Standard library only, so it runs
with any Python 3.11; it never imports Django. For each scenario it records:

- wrk's numbers (requests, rate, latency percentiles, status codes, socket errors) from the
  `BENCH_RESULT` line the Lua scripts print;
- the CPU used meanwhile by wrk (its rusage), by each gunicorn worker, by PostgreSQL (every
  `postgres` process, including backends that exited: the postmaster's children time), by Redis,
  and by the whole machine (/proc/stat);
- the RSS (and PSS) of each worker, sampled every 0.2 s.

The load is always bounded: each wrk run has a fixed duration and a fixed number of connections,
and only ever targets the URL given (127.0.0.1). Results are printed as a table and written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

BENCH_DIR = Path(__file__).resolve().parent
TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
MAX_DURATION_S = 120  # no scenario may run longer than this, whatever the options say
MAX_CONNECTIONS = 256

TARGETS = {  # from the issue; the machine has 2 vCPUs
    "signin_rps": 30.0,
    "refresh_rps": 300.0,
    "me_rps": 1200.0,
    "me_p99_ms": 50.0,
    "worker_rss_mb": 200.0,
}


@dataclass
class Scenario:
    name: str
    script: str
    connections: int
    duration: int
    args: list[str] = field(default_factory=list)
    measured: bool = True  # False for warm-ups: run, but not reported against targets


# --- /proc ------------------------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    text = _read(f"/proc/{pid}/task/{pid}/children")
    return sorted(int(p) for p in text.split())


def proc_cpu_ticks(pid: int, with_children: bool = False) -> int:
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return 0
    fields = stat[stat.rindex(")") + 2:].split()  # fields from 3 (state) on
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return utime + stime + ((cutime + cstime) if with_children else 0)


def proc_comm(pid: int) -> str:
    return _read(f"/proc/{pid}/comm").strip()


def pids_named(name: str) -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and proc_comm(int(p)) == name]


def group_cpu_ticks(name: str) -> int:
    """CPU of every process called `name`, plus the time of children they reaped (exited backends)."""
    return sum(proc_cpu_ticks(pid, with_children=True) for pid in pids_named(name))


CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def machine_ticks() -> dict[str, int]:
    """Jiffies of all CPUs since boot, by kind (/proc/stat); "steal" is time the hypervisor gave away."""
    first = _read("/proc/stat").splitlines()[0].split()[1:]
    return dict(zip(CPU_FIELDS, (int(v) for v in first[:8]), strict=True))


def busy_pct_over(seconds: float) -> float:
    before = machine_ticks()
    time.sleep(seconds)
    after = machine_ticks()
    delta = {k: after[k] - before[k] for k in CPU_FIELDS}
    return 100 * (1 - (delta["idle"] + delta["iowait"]) / max(1, sum(delta.values())))


def wait_for_quiet(limit_pct: float = 12.0, max_wait_s: float = 120.0) -> float:
    """This machine may be shared: wait (bounded) until it is nearly idle, and return how busy it was."""
    deadline = time.monotonic() + max_wait_s
    busy = busy_pct_over(2.0)
    while busy > limit_pct and time.monotonic() < deadline:
        print(f"  machine {busy:.0f} % busy before the scenario (other processes); waiting …", flush=True)
        busy = busy_pct_over(3.0)
    return busy


def memory_kib(pid: int) -> dict[str, int]:
    """RSS from /proc/<pid>/status and PSS from smaps_rollup (shared pages split among sharers),
    with the process's current number of threads."""
    out = {"rss": 0, "pss": 0, "threads": 0}
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith("VmRSS:"):
            out["rss"] = int(line.split()[1])
        elif line.startswith("Threads:"):
            out["threads"] = int(line.split()[1])
    for line in _read(f"/proc/{pid}/smaps_rollup").splitlines():
        if line.startswith("Pss:"):
            out["pss"] = int(line.split()[1])
    return out


class MemorySampler(threading.Thread):
    def __init__(self, pids: list[int], interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pids, self.interval = pids, interval
        self.samples: dict[int, list[dict[str, int]]] = {pid: [] for pid in pids}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            for pid in self.pids:
                sample = memory_kib(pid)
                if sample["rss"]:
                    self.samples[pid].append(sample)
            self._halt.wait(self.interval)

    def stop(self) -> dict[int, dict[str, float]]:
        self._halt.set()
        self.join()
        return {pid: {"rss_start_mb": ss[0]["rss"] / 1024 if ss else 0,
                      "rss_max_mb": max((s["rss"] for s in ss), default=0) / 1024,
                      "rss_median_mb": statistics.median([s["rss"] for s in ss]) / 1024 if ss else 0,
                      "pss_max_mb": max((s["pss"] for s in ss), default=0) / 1024,
                      "threads_max": max((s["threads"] for s in ss), default=0)}
                for pid, ss in self.samples.items()}


# --- wrk --------------------------------------------------------------------------------------------


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        sys.exit("wrk is not installed: `apt-get install -y wrk` (Debian's package, with LuaJIT), then run again.")
    return path


def run_wrk(url: str, scenario: Scenario, threads: int, workdir: Path) -> dict:
    if urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
        sys.exit(f"refusing to load anything but the local machine, got {url}")
    duration = min(scenario.duration, MAX_DURATION_S)
    connections = min(scenario.connections, MAX_CONNECTIONS)
    threads = min(threads, connections)
    cmd = [wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
           "-s", str(BENCH_DIR / "wrk" / scenario.script), url, "--", *scenario.args]
    out_path = workdir / f"wrk-{scenario.name}.out"
    with open(out_path, "w") as out:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603 - fixed argv
        # wait4 gives wrk's own CPU time (rusage); hard stop well after the duration it was given.
        deadline = started + duration + 30
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, rusage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
    text = out_path.read_text()
    match = re.search(r"^BENCH_RESULT (.*)$", text, re.MULTILINE)
    if proc.returncode != 0 or not match:
        sys.exit(f"wrk failed for {scenario.name} (exit {proc.returncode}):\n{text}")
    result = json.loads(match.group(1))
    result["wrk_cpu_s"] = rusage.ru_utime + rusage.ru_stime
    result["wrk_wall_s"] = wall
    result["threads"], result["connections"], result["duration_s"] = threads, connections, duration
    return result


PG_COUNTERS = ("sessions", "xact_commit", "xact_rollback", "tup_fetched", "tup_inserted", "tup_updated",
               "tup_deleted", "deadlocks")


def pg_stats(database_url: str) -> dict[str, int]:
    """The bench database's counters from pg_stat_database (sessions = connections opened, PG 14+).

    PostgreSQL publishes a backend's counts at its transactions' ends (at most once a second) and at
    its exit, so callers wait a little after the load before reading.
    """
    if not database_url:
        return {}
    import psycopg  # the project's driver: this script runs with .venv's Python

    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(f"SELECT {', '.join(PG_COUNTERS)} FROM pg_stat_database "  # noqa: S608 - constants
                           "WHERE datname = current_database()").fetchone()
    return dict(zip(PG_COUNTERS, row, strict=True))


def run_scenario(url: str, scenario: Scenario, threads: int, workdir: Path, workers: list[int],
                 profiler: Profiler | None = None, database_url: str = "") -> dict:
    pg_before = pg_stats(database_url) if scenario.measured else {}
    busy_before_pct = wait_for_quiet() if scenario.measured else None
    cpu_before = {pid: proc_cpu_ticks(pid) for pid in workers}
    pg_cpu_before, redis_before = group_cpu_ticks("postgres"), group_cpu_ticks("redis-server")
    self_before = proc_cpu_ticks(os.getpid())
    machine_before = machine_ticks()
    sampler = MemorySampler(workers)
    sampler.start()
    if profiler:
        profiler.start(scenario, workers)
    result = run_wrk(url, scenario, threads, workdir)
    memory = sampler.stop()
    if profiler:
        profiler.stop()
    machine_after = machine_ticks()
    wall = result["wrk_wall_s"]
    result["name"] = scenario.name
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    ok = sum(v for k, v in result["codes"].items() if k.startswith("2"))
    result["ok"] = ok
    result["ok_rps"] = ok / (result["duration_us"] / 1e6)
    result["5xx"] = sum(v for k, v in result["codes"].items() if k.startswith("5"))
    result["non_2xx"] = result["requests"] - ok
    # CPU in "cores" (1.0 = one vCPU fully busy) over the run, and the machine's busy share.
    result["cpu_cores"] = {
        "wrk": result["wrk_cpu_s"] / wall,
        "workers": {str(pid): (proc_cpu_ticks(pid) - cpu_before[pid]) / TICKS / wall for pid in workers},
        "postgres": (group_cpu_ticks("postgres") - pg_cpu_before) / TICKS / wall,
        "redis": (group_cpu_ticks("redis-server") - redis_before) / TICKS / wall,
        "this_script": (proc_cpu_ticks(os.getpid()) - self_before) / TICKS / wall,  # the RSS sampler
    }
    ncpu = os.cpu_count() or 1
    delta = {k: machine_after[k] - machine_before[k] for k in CPU_FIELDS}
    total = max(1, sum(delta.values()))
    result["machine_pct"] = {k: round(100 * v / total, 1) for k, v in delta.items()}
    result["machine_busy_pct"] = 100 - result["machine_pct"]["idle"] - result["machine_pct"]["iowait"]
    result["wrk_share_of_machine_pct"] = 100 * result["wrk_cpu_s"] / (wall * ncpu)
    busy_cores = result["machine_busy_pct"] / 100 * ncpu
    result["wrk_share_of_busy_pct"] = 100 * result["cpu_cores"]["wrk"] / max(1e-9, busy_cores)
    cpu = result["cpu_cores"]
    # CPU of everything else on the machine (other users' processes, kernel threads, this script).
    # Interrupt handling (loopback networking) is not charged to any process: left out of both sides.
    irq_cores = (result["machine_pct"]["irq"] + result["machine_pct"]["softirq"]) / 100 * ncpu
    result["other_cores"] = (busy_cores - irq_cores - cpu["wrk"] - sum(cpu["workers"].values())
                             - cpu["postgres"] - cpu["redis"] - cpu["this_script"])
    result["memory"] = {str(pid): m for pid, m in memory.items()}
    result["machine_busy_before_pct"] = busy_before_pct
    if pg_before:
        time.sleep(1.5)
        pg_after = pg_stats(database_url)
        # Per request that reached the view; minus the one connection pg_stats() itself opened.
        delta = {k: pg_after[k] - pg_before[k] - (1 if k == "sessions" else 0) for k in PG_COUNTERS}
        result["postgres"] = {"delta": delta, "per_request": {
            k: round(v / max(1, result["requests"]), 2) for k, v in delta.items()}}
    return result


# --- optional profiling (BENCH_PROFILE=1) ------------------------------------------------------------


class Profiler:
    """py-spy on every worker while a scenario runs: raw (collapsed) stacks per worker and thread.

    mode "cpu": py-spy's default, samples of threads it does not judge idle (its idle detection
    misses lock and socket waits, which profile_summary.py therefore reports apart);
    mode "wall": idle samples too (--idle), so waits on PostgreSQL, Redis and threads show up;
    mode "perf": `perf record` of the whole machine (every process, kernel included), summarised
    by command and shared object: how the CPU splits between Python, Argon2, libpq, PostgreSQL,
    Redis, wrk and the kernel.
    """

    def __init__(self, tool: str, outdir: Path, mode: str = "cpu") -> None:
        self.tool, self.outdir, self.mode = tool, outdir, mode  # tool: py-spy, or perf in mode "perf"
        self.procs: list[subprocess.Popen] = []

    def start(self, scenario: Scenario, workers: list[int]) -> None:
        self.outdir.mkdir(parents=True, exist_ok=True)
        if self.mode == "perf":
            self.perf_data = self.outdir / f"{scenario.name}-perf.data"
            cmd = [self.tool, "record", "-a", "-F", "499", "-o", str(self.perf_data), "--",
                   "sleep", str(scenario.duration)]
            self.procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL,  # noqa: S603 - fixed argv
                                               stderr=subprocess.DEVNULL))
            time.sleep(0.5)
            return
        for i, pid in enumerate(workers):
            out = self.outdir / f"{scenario.name}-{self.mode}-worker{i}.txt"
            cmd = [self.tool, "record", "--pid", str(pid), "--duration", str(scenario.duration),
                   "--rate", "100", "--nonblocking", "--threads", "--format", "raw", "--output", str(out)]
            if self.mode == "wall":
                cmd.append("--idle")
            self.procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL,  # noqa: S603 - fixed argv
                                               stderr=subprocess.DEVNULL))
        time.sleep(0.5)  # let py-spy attach before the load starts

    def stop(self) -> None:
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs = []
        if self.mode == "perf":
            report = self.perf_data.with_suffix(".txt")
            with open(report, "w") as out:
                for sort in ("comm,dso", "comm,dso,sym"):
                    subprocess.run([self.tool, "report", "-i", str(self.perf_data), "--sort", sort,  # noqa: S603
                                    "--stdio", "--percent-limit", "0.7"], stdout=out,
                                   stderr=subprocess.DEVNULL, timeout=120, check=False)
            self.perf_data.unlink()


# --- scenarios, report -------------------------------------------------------------------------------


def split_tokens(sessions: list[dict], key: str, count: int, threads: int, prefix: Path) -> list[dict]:
    """Write `count` tokens round-robin into <prefix><tid>.txt for `threads` wrk threads; returns the rest."""
    if len(sessions) < count:
        sys.exit(f"not enough seeded sessions: need {count}, have {len(sessions)} (raise BENCH_SESSIONS)")
    chunk, rest = sessions[:count], sessions[count:]
    for tid in range(threads):
        prefix.with_name(f"{prefix.name}{tid}.txt").write_text(
            "".join(s[key] + "\n" for s in chunk[tid::threads]))
    return rest


def worker_pids(master: int) -> list[int]:
    pids = children(master)
    if not pids:
        sys.exit(f"gunicorn master {master} has no workers")
    return pids


def fmt_ms(us: float) -> str:
    return f"{us / 1000:.1f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(results: dict) -> str:
    s = results["scenarios"]
    argon = results["argon2"]
    rss_idle = max(m["rss_mb"] for m in results["idle_before"].values())
    rss_load = max(m["rss_max_mb"] for sc in s.values() for m in sc["memory"].values())
    rows = [
        ("Argon2id hash alone (median, idle machine)", f"{argon['hash']['median_ms']:.1f} ms "
         f"(verify {argon['verify']['median_ms']:.1f} ms)", "—", ""),
        ("Password sign-ins / s", f"{s['signin']['ok_rps']:.1f}", f">= {TARGETS['signin_rps']:.0f}",
         verdict(s["signin"]["ok_rps"] >= TARGETS["signin_rps"])),
        ("Refreshes / s", f"{s['refresh']['ok_rps']:.1f}", f">= {TARGETS['refresh_rps']:.0f}",
         verdict(s["refresh"]["ok_rps"] >= TARGETS["refresh_rps"])),
        ("GET /auth/me / s", f"{s['me']['ok_rps']:.1f}", f">= {TARGETS['me_rps']:.0f}",
         verdict(s["me"]["ok_rps"] >= TARGETS["me_rps"])),
        ("GET /auth/me p50 / p99", f"{fmt_ms(s['me']['latency_us']['p50'])} / "
         f"{fmt_ms(s['me']['latency_us']['p99'])} ms", f"p99 < {TARGETS['me_p99_ms']:.0f} ms",
         verdict(s["me"]["latency_us"]["p99"] / 1000 < TARGETS["me_p99_ms"])),
        ("Worker RSS idle / peak under load", f"{rss_idle:.0f} / {rss_load:.0f} MB",
         f"< {TARGETS['worker_rss_mb']:.0f} MB", verdict(rss_load < TARGETS["worker_rss_mb"])),
    ]
    lines = ["", "| measure | result | target | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines += ["", "| scenario | conns | ok req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | 5xx | "
              "socket err | wrk CPU (cores, % of machine) | workers CPU (cores) | postgres | redis | machine busy | "
              "other processes (cores) | PG connections / req | worker threads (max) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in s.items():
        lat, err = r["latency_us"], r["errors"]
        sock = err["connect"] + err["read"] + err["write"] + err["timeout"]
        cpu = r["cpu_cores"]
        lines.append(
            f"| {name} | {r['connections']} | {r['ok_rps']:.1f} | {fmt_ms(lat['p50'])} | {fmt_ms(lat['p90'])} | "
            f"{fmt_ms(lat['p99'])} | {fmt_ms(lat['max'])} | {r['non_2xx']} | {r['5xx']} | {sock} | "
            f"{cpu['wrk']:.2f} ({r['wrk_share_of_machine_pct']:.1f} %) | "
            f"{' + '.join(f'{v:.2f}' for v in cpu['workers'].values())} | {cpu['postgres']:.2f} | "
            f"{cpu['redis']:.2f} | {r['machine_busy_pct']:.0f} % | {r['other_cores']:.2f} | "
            f"{r.get('postgres', {}).get('per_request', {}).get('sessions', '?')} | "
            f"{max(m['threads_max'] for m in r['memory'].values())} |")
    lines += ["", "| worker | RSS idle (fresh) | PSS idle | " + " | ".join(f"RSS peak {n}" for n in s)
              + " | RSS idle after |", "|---|---|---|" + "---|" * len(s) + "---|"]
    for i, pid in enumerate(results["workers"]):
        idle = results["idle_before"][str(pid)]
        after = results["idle_after"].get(str(pid), {"rss_mb": 0})
        peaks = " | ".join(f"{sc['memory'][str(pid)]['rss_max_mb']:.0f} MB" for sc in s.values())
        lines.append(f"| {i} (pid {pid}) | {idle['rss_mb']:.0f} MB | {idle['pss_mb']:.0f} MB | {peaks} | "
                     f"{after['rss_mb']:.0f} MB |")
    if results.get("inprocess"):
        lines += ["", "One request at a time in-process (no server, idle machine), per request: "
                  "wall median / app CPU / PostgreSQL CPU, ms (SQL statements)", "",
                  "| configuration | me | refresh | signin |",
                  "|---|---|---|---|"]
        for run in results["inprocess"]:
            cells = [f"{run[k]['wall_ms_median']:.1f} / {run[k]['cpu_ms_mean']:.1f} / "
                     f"{run[k]['postgres_cpu_ms_mean']:.1f} ({run[k].get('sql_statements', '?')})"
                     for k in ("me", "refresh", "signin")]
            lines.append(f"| {run['label']} | " + " | ".join(cells) + " |")
    noisy = {name: round(r["other_cores"], 2) for name, r in s.items() if r["other_cores"] > 0.15}
    if noisy:
        lines += ["", f"WARNING: other processes used CPU during {noisy} (cores): the machine was not "
                  "dedicated to the benchmark, those numbers are low. Run again on a quiet machine."]
    codes = {name: r["codes"] for name, r in s.items()}
    lines += ["", f"Status codes: {json.dumps(codes)}"]
    if results.get("worker_restarts"):
        lines.append(f"WORKER RESTARTS during the run: {results['worker_restarts']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="auth benchmark scenarios (see bench/run_auth.sh)")
    parser.add_argument("--url", required=True)
    parser.add_argument("--master-pid", type=int, required=True)
    parser.add_argument("--tokens", required=True, help="JSON written by bench/seed.py")
    parser.add_argument("--argon2", required=True, help="JSON line written by bench/argon2_time.py")
    parser.add_argument("--inprocess", default="", help="JSON lines written by bench/inprocess.py")
    parser.add_argument("--password", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--out", required=True, help="results JSON")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--signin-connections", type=int, default=8)
    parser.add_argument("--profile-dir", default="", help="with py-spy: profile each scenario into this folder")
    parser.add_argument("--profiler", default="py-spy", help="py-spy, or perf with --profile-mode perf")
    parser.add_argument("--profile-mode", choices=["cpu", "wall", "perf"], default="cpu")
    parser.add_argument("--database-url", default="", help="to read pg_stat_database (sessions, commits)")
    ns = parser.parse_args()

    workdir = Path(ns.workdir)
    seed = json.loads(Path(ns.tokens).read_text())
    sessions, threads, duration = seed["sessions"], ns.threads, ns.duration
    conns = {"signin": ns.signin_connections, "refresh": 16, "me": 32, "me_c4": 4}

    # Token files: refresh pools (4 tokens per connection, never shared between scenarios) and
    # access tokens (one per connection) for /auth/me.
    sessions = split_tokens(sessions, "refresh_token", 24, threads, workdir / "refresh-warm-")
    sessions = split_tokens(sessions, "refresh_token", 4 * conns["refresh"], threads, workdir / "refresh-")
    split_tokens(sessions, "access_token", max(conns["me"], 2 * threads), threads, workdir / "me-")

    signin_args = [str(seed["users"]), ns.password, str(threads)]
    warmups = [
        Scenario("warm-me", "me.lua", 16, 3, [str(workdir / "me-")], measured=False),
        Scenario("warm-refresh", "refresh.lua", 4, 2, [str(workdir / "refresh-warm-")], measured=False),
    ]
    # Sign-in last: Argon2's 19 MiB buffers are what grows a worker's RSS, so the scenarios before
    # it show the memory of the other paths on their own.
    scenarios = [
        Scenario("me", "me.lua", conns["me"], duration, [str(workdir / "me-")]),
        Scenario("me_c4", "me.lua", conns["me_c4"], max(5, duration // 2), [str(workdir / "me-")]),
        Scenario("refresh", "refresh.lua", conns["refresh"], duration, [str(workdir / "refresh-")]),
        Scenario("signin", "signin.lua", conns["signin"], duration, signin_args),
    ]

    workers = worker_pids(ns.master_pid)
    results: dict = {"url": ns.url, "workers": workers, "argon2": json.loads(Path(ns.argon2).read_text()),
                     "wrk_threads": threads, "duration_s": duration, "started_at": time.time(),
                     "inprocess": [json.loads(line) for line in Path(ns.inprocess).read_text().splitlines()
                                   if line.strip()] if ns.inprocess else [],
                     "env": {k: os.environ.get(k, "") for k in (
                         "WEB_CONCURRENCY", "DATABASE_POOL", "DATABASE_CONN_MAX_AGE", "MALLOC_ARENA_MAX",
                         "PASSWORD_ARGON2_MEMORY_KIB", "PASSWORD_ARGON2_TIME_COST")}}
    time.sleep(2)  # settle after start-up
    results["idle_before"] = {str(pid): {"rss_mb": memory_kib(pid)["rss"] / 1024,
                                         "pss_mb": memory_kib(pid)["pss"] / 1024} for pid in workers}
    print(f"workers {workers}, idle RSS " + ", ".join(
        f"{m['rss_mb']:.0f} MB" for m in results["idle_before"].values()), flush=True)

    profiler = Profiler(ns.profiler, Path(ns.profile_dir), ns.profile_mode) if ns.profile_dir else None
    # Warm both workers up (first requests import modules lazily and fill per-process caches); the
    # kernel spreads connections between workers unevenly, so repeat until each has done some work.
    for _ in range(3):
        before = {pid: proc_cpu_ticks(pid) for pid in workers}
        for sc in warmups:
            run_scenario(ns.url, sc, threads, workdir, workers)
        if all(proc_cpu_ticks(pid) - before[pid] > 0.5 * TICKS for pid in workers):
            break
    results["scenarios"] = {}
    for sc in scenarios:
        print(f"running {sc.name}: {sc.connections} connections, {sc.duration} s …", flush=True)
        r = run_scenario(ns.url, sc, threads, workdir, workers, profiler, ns.database_url)
        results["scenarios"][sc.name] = r
        print(f"  {r['ok_rps']:.1f} ok req/s, p50 {fmt_ms(r['latency_us']['p50'])} ms, "
              f"p99 {fmt_ms(r['latency_us']['p99'])} ms, codes {r['codes']}, counters {r['counters']}",
              flush=True)
        time.sleep(1)
    time.sleep(3)
    now_workers = worker_pids(ns.master_pid)
    results["worker_restarts"] = sorted(set(now_workers) - set(workers))
    results["idle_after"] = {str(pid): {"rss_mb": memory_kib(pid)["rss"] / 1024} for pid in workers}
    Path(ns.out).write_text(json.dumps(results, indent=2))
    print(report(results))
    print(f"\nfull results: {ns.out}")


if __name__ == "__main__":
    main()
