"""Audit trail at scale (`make bench-audit`, by hand, never in CI): docs/benchmarks.md, "Audit trail".

Run by bench/run_audit.sh with DJANGO_SETTINGS_MODULE=plinto.settings.production, pointed at the dedicated
database `plinto_audit_bench` (never another one) and Redis DB 12. Plain Django, no management command.

    python bench/audit_bench.py load   --out W/load.json     # orgs, 1M + ~200k chained events by COPY, VACUUM ANALYZE
    python bench/audit_bench.py verify --out W/verify.json   # the loaded chains hold (hashes, links, heads)
    python bench/audit_bench.py query  --out W/query.json --explain W/explain.txt  # first page per filter
    python bench/audit_bench.py export --format csv --out W/export-csv.json         # full export into /dev/null
    python bench/audit_bench.py report --work W --out bench/results/audit-<time>  # table vs targets

Every loop is bounded (a fixed number of repetitions, capped in time as well).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
from benchlib import cpu_ticks, percentile, source_version, wait_for_quiet  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plinto.settings.production")

BENCH_DB = "plinto_audit_bench"
OWNER_EMAIL = "audit-bench-owner@bench.plinto.test"
MAIN_SLUG = "audit-bench-main"
NOISE_SLUG = "audit-bench-noise-{:02d}"
TARGET_P95_MS = 50.0
TARGET_EXPORT_EPS = 20_000
PAGE = 50

# ~40 of the catalog's event types with a skewed (roughly Zipf) frequency. Sign-in failures and refused
# factors are the failures (outcome=failure): together about 1 % of the events.
ACTION_WEIGHTS = {
    "user.signed_in": 300, "factor.used": 120, "user.signed_out": 110, "organization.switched": 90,
    "session.revoked": 60, "user.updated": 40, "user.reauthenticated": 35, "member.added": 30,
    "team.member_added": 25, "invitation.sent": 25, "invitation.accepted": 20, "member.role_changed": 15,
    "member.removed": 12, "user.email_verified": 12, "user.password_changed": 10, "team.member_removed": 10,
    "user.created": 10, "user.signed_up": 10, "invitation.expired": 8, "user.signin_failed": 7,
    "organization.updated": 6, "factor.added": 6, "team.updated": 5, "invitation.revoked": 5,
    "user.email_added": 4, "user.email_changed": 3, "factor.failed": 3, "backup_codes.regenerated": 3,
    "team.created": 3, "user.password_reset": 3, "domain.updated": 2, "factor.removed": 2, "user.locked_out": 2,
    "audit.exported": 2, "user.data_exported": 1, "team.deleted": 1, "domain.added": 1, "domain.verified": 1,
    "user.social_linked": 1, "ownership.transferred": 0.5, "session.refresh_reused": 0.5,
    "mfa_challenge.voided": 0.5, "audit.retention_changed": 0.2,
}
FAILURE_ACTIONS = {"user.signin_failed", "factor.failed"}
SYSTEM_ACTIONS = {"invitation.expired", "audit.retention_changed"}
# The five target types, by the action's noun.
TARGET_OF_NOUN = {"user": "user", "session": "user", "factor": "user", "backup_codes": "user", "mfa_challenge": "user",
                  "member": "user", "ownership": "user", "organization": "organization", "audit": "organization",
                  "team": "team", "invitation": "invitation", "domain": "domain"}
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 "
    "Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 15) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Mobile Safari/537.36",
    "plinto-python/2.3.0", "terraform-provider-plinto/1.4.2", "curl/8.5.0",
]
COLUMNS = ("id", "chain_key", "seq", "occurred_at", "action", "outcome", "actor_type", "actor_id", "actor_email",
           "organization_id", "target_type", "target_id", "ip", "user_agent", "request_id", "changes", "metadata",
           "prev_hash", "hash")


def django_setup() -> None:
    import django
    from django.conf import settings

    name = settings.DATABASES["default"]["NAME"]
    if name != BENCH_DB:  # never touch another database
        sys.exit(f"audit_bench: DATABASE_URL must point at {BENCH_DB}, not {name!r}")
    django.setup()


# --- machine ----------------------------------------------------------------------------------------


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def proc_cpu_seconds(pid: int) -> float:
    try:
        parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class Machine:
    """CPU over an interval: the whole machine, this process and its PostgreSQL backend, in cores."""

    def __init__(self, backend_pid: int | None) -> None:
        self.backend_pid = backend_pid

    def __enter__(self) -> Machine:
        self.load = loadavg()
        self.t0 = time.monotonic()
        self.ticks0 = cpu_ticks()
        self.own0 = time.process_time()
        self.pg0 = proc_cpu_seconds(self.backend_pid) if self.backend_pid else float("nan")
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self.t0
        busy1, total1 = cpu_ticks()
        ncpu = os.cpu_count() or 1
        share = (busy1 - self.ticks0[0]) / max(1, total1 - self.ticks0[1])
        self.result = {
            "loadavg_before": self.load, "wall_s": round(wall, 3),
            "machine_busy_cores": round(share * ncpu, 2),
            "own_cores": round((time.process_time() - self.own0) / wall, 2) if wall else None,
            "postgres_backend_cores": (round((proc_cpu_seconds(self.backend_pid) - self.pg0) / wall, 2)
                                       if self.backend_pid and wall else None),
        }
        self.result["other_cores"] = round(max(0.0, self.result["machine_busy_cores"] - (self.result["own_cores"] or 0)
                                               - (self.result["postgres_backend_cores"] or 0)), 2)


def backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


# --- load -------------------------------------------------------------------------------------------


class Row:
    """What `event_hash` reads, without a model instance (1.2M of those would cost more than the hashing)."""

    __slots__ = COLUMNS


def make_uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


class ChainGenerator:
    """One organization's events, oldest first, as a valid hash chain continuing from its current head."""

    def __init__(self, *, org_id: uuid.UUID, slug: str, n_events: int, n_actors: int, n_target_users: int,
                 start: datetime, end: datetime, seed: int) -> None:
        from apps.audit.catalog import event_type_get

        self.rng = rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
        self.org_id, self.slug, self.n = org_id, slug, n_events
        self.start, self.end = start, end
        self.actions = list(ACTION_WEIGHTS)
        self.action_cum = list(_cumulative([ACTION_WEIGHTS[a] for a in self.actions]))
        self.fields = {a: event_type_get(a).fields for a in self.actions}
        # Actors: mostly users (e-mail snapshot), some API keys; activity is skewed (rank^-0.9).
        self.actors = []
        for i in range(n_actors):
            if i % 50 == 7:
                self.actors.append(("api_key", str(make_uuid(rng)), ""))
            else:
                self.actors.append(("user", str(make_uuid(rng)), f"person{i:05d}@{slug}.example.com"))
        rng.shuffle(self.actors)  # the rank of an actor is random, not its type
        self.actor_cum = list(_cumulative([1.0 / (r + 1) ** 0.9 for r in range(n_actors)]))
        self.target_users = [a[1] for a in self.actors if a[0] == "user"]
        self.target_users += [str(make_uuid(rng)) for _ in range(max(0, n_target_users - len(self.target_users)))]
        self.teams = [str(make_uuid(rng)) for _ in range(max(5, n_actors // 15))]
        self.domains = [str(make_uuid(rng)) for _ in range(8)]
        self.invitations = [str(make_uuid(rng)) for _ in range(max(50, n_events // 50))]
        self.ips = [f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
                    for _ in range(3000)]
        self.ips += [f"2001:db8:{rng.randint(0, 0xffff):x}::{rng.randint(1, 0xffff):x}" for _ in range(300)]

    def times(self) -> list[datetime]:
        """`n` instants over [start, end), sorted: the chain is appended in time order."""
        span = (self.end - self.start).total_seconds()
        offsets = sorted(self.rng.random() * span for _ in range(self.n))
        base = self.start.timestamp()
        return [datetime.fromtimestamp(round(base + o, 6), UTC) for o in offsets]

    def metadata(self, action: str, actor: tuple[str, str, str], target_id: str) -> dict[str, Any]:
        rng, out = self.rng, {}
        for field in self.fields[action]:
            if field in ("session_id", "factor_id", "team_id", "from_user_id", "to_user_id"):
                out[field] = target_id if field == "team_id" else str(make_uuid(rng))
            elif field == "method":
                out[field] = rng.choice(("password", "password", "password", "passkey", "google", "saml"))
            elif field == "role":
                out[field] = rng.choice(("member", "member", "member", "admin", "billing"))
            elif field == "email":
                out[field] = actor[2] or f"someone{rng.randint(0, 9999)}@{self.slug}.example.com"
            elif field == "reason":
                out[field] = rng.choice(("bad_password", "unknown_email", "expired", "user_request"))
            elif field in ("source",):
                out[field] = rng.choice(("api", "admin", "signup", "invitation"))
            elif field in ("failures", "count"):
                out[field] = rng.randint(1, 10)
            elif field in ("signed_up", "resent"):
                out[field] = rng.random() < 0.3
            elif field == "type":
                out[field] = rng.choice(("totp", "webauthn", "sms"))
            elif field == "domain":
                out[field] = f"{self.slug}.example.com"
            else:
                out[field] = f"{field}-{rng.randint(0, 999)}"
        return out

    def rows(self, *, first_seq: int, prev_hash: str):  # noqa: ANN201 - generator of tuples
        from apps.audit.hashing import event_hash

        rng, ev = self.rng, Row()
        ev.chain_key, ev.organization_id = str(self.org_id), self.org_id
        org_id_str = str(self.org_id)
        times = self.times()
        choices = rng.choices
        for i in range(self.n):
            action = choices(self.actions, cum_weights=self.action_cum)[0]
            noun = action.split(".", 1)[0]
            ev.id = make_uuid(rng)
            ev.seq = first_seq + i
            ev.occurred_at = times[i]
            ev.action = action
            ev.outcome = "failure" if action in FAILURE_ACTIONS else "success"
            if action in SYSTEM_ACTIONS:
                actor = ("system", "", "")
                ev.ip, ev.user_agent, ev.request_id = None, "", ""
            else:
                actor = choices(self.actors, cum_weights=self.actor_cum)[0]
                ev.ip = choices(self.ips)[0]
                ev.user_agent = USER_AGENTS[rng.randrange(len(USER_AGENTS))]
                ev.request_id = f"{rng.getrandbits(128):032x}"
            ev.actor_type, ev.actor_id, ev.actor_email = actor
            target_type = TARGET_OF_NOUN[noun]
            if target_type == "user":
                target_id = actor[1] if (noun in ("user", "session", "factor", "backup_codes", "mfa_challenge")
                                         and actor[0] == "user") else self.target_users[
                    rng.randrange(len(self.target_users))]
            elif target_type == "organization":
                target_id = org_id_str
            elif target_type == "team":
                target_id = self.teams[rng.randrange(len(self.teams))]
            elif target_type == "invitation":
                target_id = self.invitations[rng.randrange(len(self.invitations))]
            else:
                target_id = self.domains[rng.randrange(len(self.domains))]
            ev.target_type, ev.target_id = target_type, target_id
            ev.changes = ({"role": ["member", "admin"]} if action == "member.role_changed" else
                          {"name": ["Old name", "New name"]} if action.endswith(".updated") else {})
            ev.metadata = self.metadata(action, actor, target_id)
            ev.prev_hash = prev_hash
            ev.hash = prev_hash = event_hash(ev)
            yield (ev.id, ev.chain_key, ev.seq, ev.occurred_at, action, ev.outcome, actor[0], actor[1], actor[2],
                   self.org_id, target_type, target_id, ev.ip, ev.user_agent, ev.request_id,
                   json.dumps(ev.changes), json.dumps(ev.metadata), ev.prev_hash, ev.hash)
        self.head_hash, self.last_seq, self.last_time = prev_hash, first_seq + self.n - 1, times[-1]


def _cumulative(weights: list[float]):  # noqa: ANN202
    total = 0.0
    for w in weights:
        total += w
        yield total


def _indexes(cursor: Any) -> list[tuple[str, str, str | None, str | None, str | None]]:
    """(index name, CREATE INDEX, constraint name, constraint type, constraint definition) of the event table."""
    cursor.execute("""
        SELECT ci.relname, pg_get_indexdef(i.indexrelid), c.conname, c.contype::text, pg_get_constraintdef(c.oid)
        FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid
        LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
        WHERE i.indrelid = 'audit_auditevent'::regclass ORDER BY ci.relname""")
    return cursor.fetchall()


def cmd_load(args: argparse.Namespace) -> None:
    django_setup()
    from django.db import connection, transaction

    from apps.accounts.models import User
    from apps.audit.models import AuditChain
    from apps.orgs.services.organizations import organization_create

    result: dict[str, Any] = {"events_main": args.events, "events_noise": args.noise_events,
                              "noise_orgs": args.noise_orgs}
    t0 = time.monotonic()
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=365)
    end = now - timedelta(seconds=1)
    # The organizations are created (by the real service, with its two events) a day before their year of
    # history, so occurred_at never decreases along a chain, as when emit() writes it.
    with mock.patch("django.utils.timezone.now", return_value=start - timedelta(days=1)):
        owner = User.objects.create_user(email=OWNER_EMAIL, password=None)
        main = organization_create(user=owner, name="Audit bench (main)", slug=MAIN_SLUG)
        noise = [organization_create(user=owner, name=f"Audit bench noise {i}", slug=NOISE_SLUG.format(i))
                 for i in range(args.noise_orgs)]
    result["orgs_created_s"] = round(time.monotonic() - t0, 2)
    rng = random.Random(20261126)  # noqa: S311
    # Noise organizations of uneven size (a few large, many small), summing to `noise_events`.
    raw = [rng.paretovariate(1.5) for _ in noise]
    sizes = [max(100, int(args.noise_events * r / sum(raw))) for r in raw]
    largest = sizes.index(max(sizes))
    sizes[largest] = max(100, sizes[largest] + args.noise_events - sum(sizes))
    result["noise_sizes"] = sizes
    plan = [(main, args.events, 2000, 3000, 1)]
    plan += [(org, n, max(20, n // 500), max(40, n // 300), 100 + k)
             for k, (org, n) in enumerate(zip(noise, sizes, strict=True))]

    with connection.cursor() as cursor:
        before = _indexes(cursor)
        cursor.execute("SELECT count(*) FROM pg_constraint WHERE confrelid = 'audit_auditevent'::regclass")
        referenced = cursor.fetchone()[0] > 0
    # Bulk load as an operator would: drop the event table's indexes (the unique ones too, unless a foreign
    # key needs them), COPY, then rebuild exactly the definitions read from the catalog (checked below).
    dropped = [ix for ix in before if not (referenced and ix[3] in ("p", "u"))]
    timings: dict[str, float] = {}
    with transaction.atomic():
        with connection.cursor() as cursor:
            for name, _, conname, _, _ in dropped:
                if conname:
                    cursor.execute(f'ALTER TABLE audit_auditevent DROP CONSTRAINT "{conname}"')
                else:
                    cursor.execute(f'DROP INDEX "{name}"')
            heads = {c.key: c for c in AuditChain.objects.select_for_update().filter(
                key__in=[str(o.pk) for o, *_ in plan])}
            copy_t0 = time.monotonic()
            n_rows = 0
            cols = ", ".join(COLUMNS)
            with cursor.cursor.copy(f"COPY audit_auditevent ({cols}) FROM STDIN") as copy:  # noqa: S608
                for org, n, n_actors, n_users, seed in plan:
                    head = heads[str(org.pk)]
                    gen = ChainGenerator(org_id=org.pk, slug=org.slug, n_events=n, n_actors=n_actors,
                                         n_target_users=n_users, start=start, end=end, seed=seed)
                    for row in gen.rows(first_seq=head.length + 1, prev_hash=head.head_hash):
                        copy.write_row(row)
                        n_rows += 1
                    head.head_hash, head.length, head.updated_at = gen.head_hash, gen.last_seq, gen.last_time
                    if org is main:
                        result["main_last_seq"] = gen.last_seq
                    print(f"  chain {org.slug}: {n} events, seq {gen.last_seq}, "
                          f"{n_rows / (time.monotonic() - copy_t0):,.0f} rows/s so far", flush=True)
            timings["generate_hash_copy_s"] = time.monotonic() - copy_t0
            for head in heads.values():  # update(): the model's auto_now would overwrite updated_at
                AuditChain.objects.filter(key=head.key).update(head_hash=head.head_hash, length=head.length,
                                                               updated_at=head.updated_at)
            t = time.monotonic()
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for _, indexdef, conname, _, condef in dropped:
                if conname:
                    cursor.execute(f'ALTER TABLE audit_auditevent ADD CONSTRAINT "{conname}" {condef}')
                else:
                    cursor.execute(indexdef)
            timings["index_build_s"] = time.monotonic() - t
            after = _indexes(cursor)
            if sorted(after) != sorted(before):
                raise SystemExit(f"index rebuild differs from the migrated schema:\n{before}\n{after}")
            commit_t0 = time.monotonic()
    timings["commit_s"] = time.monotonic() - commit_t0
    result["rows_copied"] = n_rows
    with connection.cursor() as cursor:
        t = time.monotonic()
        cursor.execute("VACUUM (ANALYZE) audit_auditevent")
        cursor.execute("ANALYZE audit_auditchain")
        timings["vacuum_analyze_s"] = time.monotonic() - t
        cursor.execute("""SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c
                          WHERE c.oid = 'audit_auditevent'::regclass
                             OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'audit_auditevent'::regclass)
                          ORDER BY 2 DESC""")
        result["relation_sizes_mb"] = {name: round(size / 2**20, 1) for name, size in cursor.fetchall()}
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        result["events_total"] = cursor.fetchone()[0]
    result["timings_s"] = {k: round(v, 1) for k, v in timings.items()}
    result["load_total_s"] = round(time.monotonic() - t0, 1)
    result["indexes_dropped_and_rebuilt"] = [ix[0] for ix in dropped]
    result["main_org_id"], result["now"] = str(main.pk), now.isoformat()
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "noise_sizes"}, indent=2))


# --- verify -----------------------------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace) -> None:
    """The generator writes valid chains: full `chain_verify` of every noise chain (same code, other seeds);
    for the 1M chain, SQL checks of every link and of the head, plus `event_hash` recomputed on a sample."""
    django_setup()
    from django.db import connection

    from apps.audit.hashing import event_hash
    from apps.audit.models import AuditChain, AuditEvent
    from apps.audit.selectors import chain_verify
    from apps.orgs.models import Organization

    out: dict[str, Any] = {}
    main = Organization.objects.get(slug=MAIN_SLUG)
    noise = list(Organization.objects.filter(slug__startswith="audit-bench-noise-").order_by("slug"))
    t = time.monotonic()
    results = [chain_verify(chain_key=str(o.pk)) for o in noise]
    out["noise_chains_ok"] = sum(r.ok for r in results)
    out["noise_chains"] = len(results)
    out["noise_events_verified"] = sum(r.events_checked for r in results)
    out["noise_problems"] = [r.reason for r in results if not r.ok][:3]
    out["noise_verify_s"] = round(time.monotonic() - t, 1)
    t = time.monotonic()
    key = str(main.pk)
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT count(*) FILTER (WHERE prev_hash IS DISTINCT FROM expected), count(*) FILTER (WHERE seq <> rn),
                   count(*), count(*) FILTER (WHERE occurred_at < previous_time)
            FROM (SELECT seq, prev_hash, occurred_at, row_number() OVER w AS rn,
                         lag(occurred_at) OVER w AS previous_time,
                         coalesce(lag(hash) OVER w, repeat('0', 64)) AS expected
                  FROM audit_auditevent WHERE chain_key = %s WINDOW w AS (ORDER BY seq)) s""", [key])
        bad_links, bad_seq, n, time_inversions = cursor.fetchone()
        cursor.execute("SELECT hash, seq FROM audit_auditevent WHERE chain_key = %s ORDER BY seq DESC LIMIT 1", [key])
        last_hash, last_seq = cursor.fetchone()
    head = AuditChain.objects.get(key=key)
    sample_seqs = random.Random(7).sample(range(1, n + 1), min(args.sample, n))  # noqa: S311
    sample = AuditEvent.objects.filter(chain_key=key, seq__in=sample_seqs)
    bad_hashes = sum(event_hash(e) != e.hash for e in sample)
    out["main"] = {"events": n, "bad_links": bad_links, "seq_gaps": bad_seq, "time_inversions": time_inversions,
                   "head_matches": head.head_hash == last_hash and head.length == last_seq,
                   "hashes_recomputed": len(sample_seqs), "bad_hashes": bad_hashes,
                   "verify_s": round(time.monotonic() - t, 1)}
    if args.full:
        t = time.monotonic()
        r = chain_verify(chain_key=key)
        out["main"]["chain_verify"] = {"ok": r.ok, "events_checked": r.events_checked, "reason": r.reason,
                                       "s": round(time.monotonic() - t, 1)}
    out["ok"] = (out["noise_chains_ok"] == out["noise_chains"] and not bad_links and not bad_seq and not time_inversions
                 and out["main"]["head_matches"] and not bad_hashes
                 and out["main"].get("chain_verify", {"ok": True})["ok"])
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    if not out["ok"]:
        sys.exit("audit_bench: the loaded chains do not verify")


# --- first page per filter --------------------------------------------------------------------------


def _pick(cursor: Any, sql: str, params: list[Any]) -> Any:
    cursor.execute(sql, params)
    return cursor.fetchone()


def scenarios(org_id: str, now: datetime) -> list[tuple[str, bool, Any]]:
    """(label, counts toward the target, EventFilters). Values are chosen from the data, by rank."""
    from django.db import connection

    from apps.audit.selectors import EventFilters

    with connection.cursor() as cursor:
        actions = _ranked(cursor, "action", org_id)
        actors = _ranked(cursor, "actor_id", org_id, "AND actor_type = 'user'")
        cursor.execute("""SELECT target_id, count(*) FROM audit_auditevent
                          WHERE chain_key = %s AND target_type = 'user' GROUP BY 1 ORDER BY 2 DESC, 1""", [org_id])
        targets = cursor.fetchall()
        mid_action = actions[len(actions) // 4][0]  # a mid-frequency action (rank ~10 of ~43)
        actor = actors[9][0]  # the 10th most active user
        target = targets[len(targets) // 2][0]  # a median user target
        cursor.execute("""SELECT action, count(*) FROM audit_auditevent WHERE chain_key = %s AND actor_id = %s
                          GROUP BY 1 ORDER BY 2 DESC, 1""", [org_id, actor])
        actor_actions = cursor.fetchall()
        combo_action = actor_actions[min(3, len(actor_actions) - 1)][0]
    rare_action = actions[-1][0]
    last7 = (now - timedelta(days=7), now)
    old7 = (now - timedelta(days=187), now - timedelta(days=180))
    return [
        ("none", True, EventFilters()),
        (f"action = {mid_action}", True, EventFilters(action=mid_action)),
        ("action prefix member.*", True, EventFilters(action="member.*")),
        ("actor_id (10th most active user)", True, EventFilters(actor_id=actor)),
        ("target user (median target)", True, EventFilters(target_type="user", target_id=target)),
        ("outcome = failure", True, EventFilters(outcome="failure")),
        ("since/until: last 7 days", True, EventFilters(since=last7[0], until=last7[1])),
        (f"action {combo_action} + actor", True, EventFilters(action=combo_action, actor_id=actor)),
        # Harder variants of the same filters, reported beside them (they count toward the target too:
        # a user can type them).
        (f"action = {rare_action} (rarest)", True, EventFilters(action=rare_action)),
        ("action prefix domain.* (rare)", True, EventFilters(action="domain.*")),
        ("since/until: 7 days, 180 days ago", True, EventFilters(since=old7[0], until=old7[1])),
        ("until: 180 days ago", True, EventFilters(until=old7[1])),
        ("outcome = failure + last 7 days", True, EventFilters(outcome="failure", since=last7[0], until=last7[1])),
    ]


def candidate_time_bounded(org_id: Any, filters: Any) -> Any:
    """A CANDIDATE FIX measured beside the product, not the product's selector: a time window becomes a `seq`
    range found by two one-row probes of the existing (chain_key, -occurred_at) index, so the first page is a
    short backward range scan of (chain_key, seq) wherever the window lies. The occurred_at conditions stay.
    Exact as long as occurred_at never decreases along a chain (emit stamps events under the chain's row lock;
    the retention job already relies on this order)."""
    from apps.audit.models import AuditEvent
    from apps.audit.selectors import event_list

    events = event_list(organization_id=org_id, filters=filters)
    chain = AuditEvent.objects.filter(chain_key=str(org_id))
    if filters.since:
        lo = chain.filter(occurred_at__gte=filters.since).order_by("occurred_at").values_list("seq", flat=True).first()
        if lo is None:
            return events.none()
        events = events.filter(seq__gte=lo)
    if filters.until:
        hi = chain.filter(occurred_at__lt=filters.until).order_by("-occurred_at").values_list("seq", flat=True).first()
        if hi is None:
            return events.none()
        events = events.filter(seq__lte=hi)
    return events


def _ranked(cursor: Any, column: str, org_id: str, extra: str = "") -> list[tuple[str, int]]:
    cursor.execute(f"SELECT {column}, count(*) FROM audit_auditevent WHERE chain_key = %s {extra} "  # noqa: S608
                   "GROUP BY 1 ORDER BY 2 DESC, 1", [org_id])
    return cursor.fetchall()


def _plan_summary(plan: str) -> str:
    import re

    scans = re.findall(r"((?:Parallel )?(?:Index Only Scan|Index Scan|Bitmap Index Scan|Seq Scan)"
                       r"(?: Backward)?(?: using (\w+)| on (\w+)))", plan)
    parts = [s[0] for s in scans]
    if "Sort" in plan and "Sort Key" in plan:
        parts.append("+ top-N sort" if "top-N" in plan else "+ sort")
    return ", ".join(parts)


def cmd_query(args: argparse.Namespace) -> None:
    django_setup()
    from django.db import connection

    from apps.audit.selectors import event_list, event_page
    from apps.orgs.models import Organization

    org = Organization.objects.get(slug=MAIN_SLUG)
    now = datetime.now(UTC)
    pid = backend_pid()
    quiet = wait_for_quiet(args.quiet_wait)
    out: dict[str, Any] = {"reps": args.reps, "page": PAGE, "machine_busy_at_start": round(quiet, 2), "scenarios": [],
                           "started": datetime.now(UTC).strftime("%H:%M:%S UTC"),
                           "source": source_version("apps/audit/selectors.py", "apps/audit/models.py")}
    explain_lines = []
    def product(org_id: Any, filters: Any) -> Any:  # the product's selector, as the list API calls it
        return event_list(organization_id=org_id, filters=filters)

    todo = [(label, counts, filters, product) for label, counts, filters in scenarios(str(org.pk), now)]
    todo += [(f"CANDIDATE seq-bounded: {label}", False, filters, candidate_time_bounded)
             for label, _, filters, _ in todo if label.startswith(("since/until", "until"))]
    for label, counts, filters, query in todo:
        events = query(org.pk, filters)
        matching = events.count()
        for _ in range(args.warmup):
            event_page(query(org.pk, filters), limit=PAGE, before_seq=None)
        samples: list[float] = []
        deadline = time.monotonic() + args.max_seconds
        with Machine(pid) as machine:
            for i in range(args.reps):
                t = time.perf_counter()
                rows, cursor = event_page(query(org.pk, filters), limit=PAGE, before_seq=None)
                samples.append((time.perf_counter() - t) * 1000)
                if time.monotonic() > deadline and i >= 19:
                    break
        # The SQL of the page and its plan, as run (event_page's LIMIT 51).
        page_qs = query(org.pk, filters)[: PAGE + 1]
        plan = page_qs.explain(analyze=True, buffers=True)
        sql = str(page_qs.query)
        samples_sorted = sorted(samples)
        entry = {
            "label": label, "target": counts, "candidate": query is not product,
            "filters": {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in filters.__dict__.items() if v},
            "matching_rows": matching, "page_rows": len(rows), "n": len(samples),
            "p50_ms": round(percentile(samples_sorted, 50), 2), "p95_ms": round(percentile(samples_sorted, 95), 2),
            "max_ms": round(samples_sorted[-1], 2), "mean_ms": round(statistics.fmean(samples), 2),
            "plan": _plan_summary(plan), **machine.result,
        }
        out["scenarios"].append(entry)
        explain_lines += [f"=== {label}  (p50 {entry['p50_ms']} ms, p95 {entry['p95_ms']} ms, "
                          f"{matching} matching rows, loadavg before {entry['loadavg_before']})",
                          f"-- {sql}", plan, ""]
        print(f"  {label:<40} p50 {entry['p50_ms']:7.2f} ms  p95 {entry['p95_ms']:7.2f} ms  "
              f"({matching:>7} rows; {entry['plan']}; load {entry['loadavg_before']})", flush=True)
    slowest = max((s for s in out["scenarios"] if s["target"]), key=lambda s: s["p95_ms"])
    out["slowest"] = slowest["label"]
    with connection.cursor() as cursor:
        settings = {}
        for name in ("shared_buffers", "work_mem", "effective_cache_size", "random_page_cost", "jit",
                     "max_parallel_workers_per_gather"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
        cursor.execute("SHOW server_version")
        out["postgres_version"] = cursor.fetchone()[0]
    out["postgres_settings"] = settings
    text = [f"# EXPLAIN (ANALYZE, BUFFERS) of each first page; slowest (p95): {slowest['label']}", ""]
    # The slowest first, then the rest in order.
    idx = next(i for i, line in enumerate(explain_lines) if line.startswith(f"=== {slowest['label']}  "))
    text += explain_lines[idx: idx + 4] + ["# --- every scenario ---", ""] + explain_lines
    Path(args.explain).write_text("\n".join(text))
    Path(args.out).write_text(json.dumps(out, indent=2))


# --- export -----------------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> None:
    django_setup()
    from apps.accounts.models import User
    from apps.audit.selectors import EventFilters, event_list
    from apps.orgs.models import Organization

    org = Organization.objects.get(slug=MAIN_SLUG)
    owner = User.objects.get(email=OWNER_EMAIL)
    pid = backend_pid()
    quiet = wait_for_quiet(args.quiet_wait)
    rss_before = status_kib("VmRSS")
    started = datetime.now(UTC).strftime("%H:%M:%S UTC")
    source = source_version("apps/audit/exports.py")
    events = event_list(organization_id=org.pk, filters=EventFilters())
    method = ""
    try:
        from apps.audit import exports
    except ImportError:
        exports = None
    peak = {"rss": rss_before}
    stop = threading.Event()

    def sample() -> None:  # RSS while exporting, every 0.1 s (VmHWM gives the peak as well)
        while not stop.wait(0.1):
            peak["rss"] = max(peak["rss"], status_kib("VmRSS"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with Machine(pid) as machine:
        t0 = time.perf_counter()
        if exports is not None and hasattr(exports, "audit_log_export"):
            method = "apps.audit.exports.audit_log_export(...).chunks (the export's public streaming function)"
            chunks = exports.audit_log_export(actor=owner, organization=org, events=events, format=args.format,
                                              filters={}).chunks
        elif exports is not None and hasattr(exports, f"{args.format}_chunks"):
            method = f"apps.audit.exports.{args.format}_chunks(event_list(...))"
            chunks = getattr(exports, f"{args.format}_chunks")(events)
        else:
            method = "plain .iterator(chunk_size=2000) serialization (apps.audit.exports not available)"
            chunks = _plain_chunks(events, args.format)
        first_rows = None
        header = 1 if args.format == "csv" else 0
        n_bytes = n_lines = 0
        with open(os.devnull, "wb") as sink:
            for chunk in chunks:
                sink.write(chunk)
                n_bytes += len(chunk)
                n_lines += chunk.count(b"\n")
                if first_rows is None and n_lines > header:
                    first_rows = time.perf_counter() - t0
        elapsed = time.perf_counter() - t0
    stop.set()
    sampler.join()
    n_events = n_lines - (1 if args.format == "csv" else 0)  # the CSV header; no value holds a newline
    own_cpu = machine.result["own_cores"] * machine.result["wall_s"]
    pg_cpu = (machine.result["postgres_backend_cores"] or 0) * machine.result["wall_s"]
    out = {"format": args.format, "method": method, "events": n_events, "bytes": n_bytes,
           "app_cpu_s": round(own_cpu, 1), "pg_cpu_s": round(pg_cpu, 1),
           "events_per_cpu_s": round(n_events / (own_cpu + pg_cpu)) if own_cpu + pg_cpu else None,
           "seconds": round(elapsed, 2), "events_per_s": round(n_events / elapsed),
           "first_rows_s": round(first_rows, 3),
           "mb_per_s": round(n_bytes / elapsed / 2**20, 1), "rss_before_mb": round(rss_before / 1024, 1),
           "rss_peak_mb": round(max(peak["rss"], status_kib("VmHWM")) / 1024, 1),
           "machine_busy_at_start": round(quiet, 2), "started": started, "source": source, **machine.result}
    if source != source_version("apps/audit/exports.py"):
        out["warning"] = "apps/audit/exports.py changed during the export: rerun"
    if args.profile_events and exports is not None and hasattr(exports, "audit_log_export"):
        out["profile"] = _export_profile(args, exports, owner, org, events)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


def _export_profile(args: argparse.Namespace, exports: Any, owner: Any, org: Any, events: Any) -> dict[str, Any]:
    """Where an export's time goes, on its newest `profile_events` rows (after the timed run): reading alone
    (model instances from the server-side cursor, and plain tuples for comparison), then cProfile of the export."""
    import cProfile
    import io
    import pstats

    from apps.audit.models import AuditChain

    head = AuditChain.objects.get(key=str(org.pk))
    subset = events.filter(seq__gt=head.length - args.profile_events)
    stages: dict[str, Any] = {"events": args.profile_events}
    t, c = time.perf_counter(), time.process_time()
    n = sum(1 for _ in subset.order_by("-seq").iterator(chunk_size=2000))
    stages["read_models_per_s"] = round(n / (time.perf_counter() - t))
    stages["read_models_cpu_us_per_event"] = round((time.process_time() - c) / n * 1e6, 1)
    t, c = time.perf_counter(), time.process_time()
    n = sum(1 for _ in subset.order_by("-seq").values_list().iterator(chunk_size=2000))
    stages["read_tuples_per_s"] = round(n / (time.perf_counter() - t))
    stages["read_tuples_cpu_us_per_event"] = round((time.process_time() - c) / n * 1e6, 1)
    t, c = time.perf_counter(), time.process_time()
    for _ in exports.audit_log_export(actor=owner, organization=org, events=subset, format=args.format,
                                      filters={}).chunks:
        pass
    stages["export_per_s"] = round(args.profile_events / (time.perf_counter() - t))
    stages["export_cpu_us_per_event"] = round((time.process_time() - c) / args.profile_events * 1e6, 1)
    stages.update(_export_candidates(args.format, org, head.length - args.profile_events))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in exports.audit_log_export(actor=owner, organization=org, events=subset, format=args.format,
                                      filters={}).chunks:
        pass
    profiler.disable()
    text = io.StringIO()
    text.write(f"# cProfile of the {args.format} export of the newest {args.profile_events} events "
               f"(profiling inflates Python-level calls; shares matter, not absolute times)\n# stages: {stages}\n\n")
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)
    Path(args.profile).write_text(text.getvalue())
    return stages


def _plain_chunks(events: Any, fmt: str):  # noqa: ANN202 - the fallback the brief allows
    import csv
    import io

    cols = ("id", "occurred_at", "action", "outcome", "actor_type", "actor_id", "actor_email", "target_type",
            "target_id", "ip", "user_agent", "request_id", "changes", "metadata", "prev_hash", "hash")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if fmt == "csv":
        writer.writerow(cols)
    n = 0
    for event in events.order_by("-seq").iterator(chunk_size=2000):
        values = [getattr(event, c) for c in cols]
        if fmt == "csv":
            writer.writerow(["" if v is None else (json.dumps(v) if isinstance(v, dict) else str(v)) for v in values])
        else:
            buffer.write(json.dumps(dict(zip(cols, values, strict=True)), default=str) + "\n")
        n += 1
        if n % 2000 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


CELL_SQL = "CASE WHEN left({0}, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r') THEN '''' || {0} ELSE {0} END"
TIME_SQL = "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"


def _export_candidates(fmt: str, org: Any, after_seq: int) -> dict[str, Any]:
    """CANDIDATE FIXES measured on the profile's rows, not the product's export (same columns, not byte-identical:
    jsonb's own text form, for instance). CSV: PostgreSQL writes it (COPY ... TO STDOUT, formula cells quoted in
    SQL). JSONL: a plain dict per event instead of the DRF serializer; and PostgreSQL building each line."""
    from django.db import connection
    from psycopg import sql

    from apps.audit.models import AuditEvent

    def _json(value: Any) -> str:  # as apps.audit.exports encodes JSON
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def timestamp(value: datetime) -> str:
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    where = sql.SQL("chain_key = {} AND seq > {}").format(sql.Literal(str(org.pk)), sql.Literal(after_seq))
    out: dict[str, Any] = {}
    if fmt == "csv":
        cols = ["id", TIME_SQL, CELL_SQL.format("action"), "outcome", "actor_type"]
        cols += [CELL_SQL.format(c) for c in ("actor_id", "actor_email", "target_type", "target_id")]
        cols += ["host(ip)", CELL_SQL.format("user_agent"), CELL_SQL.format("request_id"), "changes::text",
                 "metadata::text", "prev_hash", "hash"]
        query = sql.SQL("COPY (SELECT {} FROM audit_auditevent WHERE {} ORDER BY seq DESC) TO STDOUT (FORMAT csv, "
                        "HEADER)").format(sql.SQL(", ").join(sql.SQL(c) for c in cols), where)
        t, c = time.perf_counter(), time.process_time()
        n = -1
        with connection.cursor() as cursor, cursor.cursor.copy(query) as copy:
            for block in copy:
                n += bytes(block).count(b"\n")
        out["candidate_csv_pg_copy_per_s"] = round(n / (time.perf_counter() - t))
        out["candidate_csv_pg_copy_app_cpu_us_per_event"] = round((time.process_time() - c) / n * 1e6, 1)
        return out

    def plain(e: AuditEvent) -> dict[str, Any]:
        return {"id": str(e.id), "occurred_at": timestamp(e.occurred_at), "action": e.action, "outcome": e.outcome,
                "actor": {"type": e.actor_type, "id": e.actor_id or None, "email": e.actor_email or None},
                "organization_id": str(e.organization_id) if e.organization_id else None,
                "target": {"type": e.target_type, "id": e.target_id} if e.target_type else None, "ip": e.ip,
                "user_agent": e.user_agent, "request_id": e.request_id, "changes": e.changes, "metadata": e.metadata,
                "prev_hash": e.prev_hash, "hash": e.hash}

    events = AuditEvent.objects.filter(chain_key=str(org.pk), seq__gt=after_seq).order_by("-seq")
    t, c = time.perf_counter(), time.process_time()
    n = 0
    for e in events.iterator(chunk_size=2000):
        _json(plain(e))
        n += 1
    out["candidate_jsonl_plain_dict_per_s"] = round(n / (time.perf_counter() - t))
    out["candidate_jsonl_plain_dict_cpu_us_per_event"] = round((time.process_time() - c) / n * 1e6, 1)
    line = sql.SQL("""json_build_object('id', id, 'occurred_at', {}, 'action', action, 'outcome', outcome,
        'actor', json_build_object('type', actor_type, 'id', nullif(actor_id, ''), 'email', nullif(actor_email, '')),
        'organization_id', organization_id,
        'target', CASE WHEN target_type <> '' THEN json_build_object('type', target_type, 'id', target_id) END,
        'ip', host(ip), 'user_agent', user_agent, 'request_id', request_id, 'changes', changes,
        'metadata', metadata, 'prev_hash', prev_hash, 'hash', hash)::text""").format(sql.SQL(TIME_SQL))
    query = sql.SQL("SELECT {} FROM audit_auditevent WHERE {} ORDER BY seq DESC").format(line, where)
    t, c = time.perf_counter(), time.process_time()
    n = 0
    connection.ensure_connection()
    with connection.connection.transaction(), connection.connection.cursor(name="audit_bench_jsonl") as cursor:
        cursor.itersize = 2000
        cursor.execute(query)
        while rows := cursor.fetchmany(2000):
            "".join(r[0] + "\n" for r in rows).encode()
            n += len(rows)
    out["candidate_jsonl_pg_built_per_s"] = round(n / (time.perf_counter() - t))
    out["candidate_jsonl_pg_built_app_cpu_us_per_event"] = round((time.process_time() - c) / n * 1e6, 1)
    return out


# --- report -----------------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> None:
    work = Path(args.work)
    load = json.loads((work / "load.json").read_text())
    verify = json.loads((work / "verify.json").read_text())
    query = json.loads((work / "query.json").read_text())
    exports = [json.loads((work / f"export-{f}.json").read_text()) for f in ("csv", "jsonl")
               if (work / f"export-{f}.json").exists()]
    machine = json.loads((work / "machine.json").read_text())
    lines = [f"Audit trail benchmark  {machine['stamp']}",
             f"machine: {machine['nproc']} vCPU, {machine['cpu']}, {machine['ram_mib']} MiB RAM; "
             f"PostgreSQL {query['postgres_version']} "
             f"({', '.join(f'{k}={v}' for k, v in query['postgres_settings'].items())})",
             f"loadavg at start: {machine['loadavg_start']}", "",
             f"load: {load['rows_copied']:,} events COPYed ({load['events_main']:,} for one org, "
             f"{load['events_noise']:,} over "
             f"{load['noise_orgs']} others) in {load['timings_s']['generate_hash_copy_s']} s "
             f"(generate + event_hash + COPY, "
             f"{load['rows_copied'] / load['timings_s']['generate_hash_copy_s']:,.0f} rows/s), "
             f"index rebuild {load['timings_s']['index_build_s']} s, "
             f"VACUUM ANALYZE {load['timings_s']['vacuum_analyze_s']} s, "
             f"total {load['load_total_s']} s",
             f"table + indexes: {sum(load['relation_sizes_mb'].values()):,.0f} MB "
             f"({', '.join(f'{k} {v}' for k, v in load['relation_sizes_mb'].items())})",
             f"chains verified: {verify['noise_chains_ok']}/{verify['noise_chains']} noise chains by chain_verify "
             f"({verify['noise_events_verified']:,} events); main chain: {verify['main']['events']:,} links checked, "
             f"bad links {verify['main']['bad_links']}, time inversions {verify['main']['time_inversions']}, "
             f"head ok {verify['main']['head_matches']}, "
             f"{verify['main']['hashes_recomputed']} hashes recomputed, bad {verify['main']['bad_hashes']}", "",
             f"first page (limit {query['page']}, event_list + event_page, in-process, warm, {query['reps']} reps), "
             f"target p95 < {TARGET_P95_MS:.0f} ms",
             "| filter | matching rows | p50 ms | p95 ms | max ms | target | plan | loadavg before "
             "| machine busy (cores) |",
             "|---|---|---|---|---|---|---|---|---|"]
    met_all = True
    for s in query["scenarios"]:
        met = s["p95_ms"] < TARGET_P95_MS
        met_all &= met or not s["target"]
        verdict = ("met" if met else "**missed**") if s["target"] else "candidate, not the product"
        lines.append(f"| {s['label']} | {s['matching_rows']:,} | {s['p50_ms']} | {s['p95_ms']} | {s['max_ms']} | "
                     f"{verdict} | {s['plan']} | {s['loadavg_before']} "
                     f"| {s['machine_busy_cores']} |")
    lines += ["", f"export of the whole trail into /dev/null, target >= {TARGET_EXPORT_EPS:,} events/s",
              "| format | events | seconds | events/s | events per CPU-s (app+PG) | MB/s | first rows s "
              "| peak RSS MB (before) | app CPU | PG backend CPU | "
              "other CPU | loadavg before | target |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for e in exports:
        met = e["events_per_s"] >= TARGET_EXPORT_EPS
        lines.append(f"| {e['format']} | {e['events']:,} | {e['seconds']} | {e['events_per_s']:,} | "
                     f"{e['events_per_cpu_s']:,} | {e['mb_per_s']} | "
                     f"{e['first_rows_s']} | {e['rss_peak_mb']} ({e['rss_before_mb']}) | {e['own_cores']} | "
                     f"{e['postgres_backend_cores']} | {e['other_cores']} | {e['loadavg_before']} | "
                     f"{'met' if met else '**missed**'} |")
    lines.append(f"first pages from {query.get('started')}, code: {query.get('source')}")
    for e in exports:
        lines.append(f"{e['format']} export from {e.get('started')}: {e['method']}; code: {e.get('source')}"
                     + (f" WARNING: {e['warning']}" if e.get("warning") else ""))
    for e in exports:
        if e.get("profile"):
            lines.append(f"{e['format']} stages on the newest {e['profile']['events']:,} events: {e['profile']}")
    lines += ["", f"slowest first page: {query['slowest']} (plan in {args.out}-explain.txt)",
              f"first-page target {'met for every filter' if met_all else 'MISSED for some filters'}"]
    text = "\n".join(lines)
    print(text)
    Path(args.out + ".txt").write_text(text + "\n")
    Path(args.out + ".json").write_text(json.dumps({"machine": machine, "load": load, "verify": verify,
                                                    "query": query, "exports": exports}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("load")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--noise-events", type=int, default=200_000)
    p.add_argument("--noise-orgs", type=int, default=20)
    p.add_argument("--out", required=True)
    p = sub.add_parser("verify")
    p.add_argument("--sample", type=int, default=2000)
    p.add_argument("--full", action="store_true", help="chain_verify the 1M chain too (about a minute)")
    p.add_argument("--out", required=True)
    p = sub.add_parser("query")
    p.add_argument("--reps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--max-seconds", type=float, default=25.0, help="per scenario (at least 20 reps are kept)")
    p.add_argument("--quiet-wait", type=float, default=20.0)
    p.add_argument("--out", required=True)
    p.add_argument("--explain", required=True)
    p = sub.add_parser("export")
    p.add_argument("--format", choices=("csv", "jsonl"), required=True)
    p.add_argument("--quiet-wait", type=float, default=20.0)
    p.add_argument("--profile-events", type=int, default=0, help="then profile the export of the newest N events")
    p.add_argument("--profile", help="file for the profile")
    p.add_argument("--out", required=True)
    p = sub.add_parser("report")
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True, help="path prefix: .txt and .json are added")
    args = parser.parse_args()
    commands = {"load": cmd_load, "verify": cmd_verify, "query": cmd_query, "export": cmd_export, "report": cmd_report}
    commands[args.cmd](args)


if __name__ == "__main__":
    main()
