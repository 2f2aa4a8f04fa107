"""Access-control decisions at scale (`make bench-rbac`, by hand, never in CI): docs/benchmarks.md, "Access control".

Run by bench/run_rbac.sh with DJANGO_SETTINGS_MODULE=plinto.settings.production, pointed at the dedicated
database `plinto_rbac_bench` (never another one) and Redis DB 13. Plain Django, no management command.

    python bench/rbac_bench.py seed    --out W/seed.json      # one org: ~500 members, 50 roles, 20 teams,
                                                              # 200 policies, 10k grants; noise orgs (bulk_create)
    python bench/rbac_bench.py measure --out W/measure.json --profile W/profile.txt  # checks/s, p50/p95/p99
    python bench/rbac_bench.py report  --work W --out bench/results/rbac-<time>     # table vs targets

What is timed is the product's decision path, in-process: apps.rbac.services.decisions.user_caller()
(version from Redis, member snapshot from the in-process LRU, else Redis, else PostgreSQL) and decide()
(roles, grants, the organization's compiled policies). Every loop is bounded (a fixed number of
repetitions, capped in time as well).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
from benchlib import cpu_ticks, percentile, source_version, wait_for_quiet  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plinto.settings.production")

BENCH_DB = "plinto_rbac_bench"
BENCH_REDIS_DB = 13
OWNER_EMAIL = "rbac-bench-owner@bench.plinto.test"
MAIN_SLUG = "rbac-bench-main"
NOISE_SLUG = "rbac-bench-noise-{:02d}"
TARGET_WARM_US = 100.0  # p99 of decide() in-process, warm
TARGET_COLD_MS = 5.0  # p99 of user_caller() + decide() after the organization's version changed
SOURCES = ("apps/rbac/services/decisions.py", "apps/rbac/policies.py", "apps/rbac/conditions.py",
           "apps/rbac/selectors.py", "apps/rbac/cache.py")

# CEL conditions, as templates: `{k}` makes most of the 100 condition texts distinct (each is compiled once).
CONDITIONS = [
    'inCidr(request.ip, "10.{k}.0.0/16") || inCidr(request.ip, "10.0.0.0/8")',
    'timeBetween(request.time, "0{h}:00", "18:{m:02d}", "Europe/Paris")',
    "request.mfa_age >= 0 && request.mfa_age < {mfa}",
    'subject.email.endsWith("@example.com") || subject.email.startsWith("person{k:03d}")',
    '!inCidr(request.ip, "192.168.{k}.0/24") || subject.mfa_enabled',
    'weekday(request.time, "UTC") <= 5 && hourOf(request.time, "UTC") >= {h}',
    '"role-{k2:02d}" in subject.roles || request.mfa_age >= 0',
    'resource.type == "team" && size(subject.teams) > {t}',
    "organization.mfa_required == false || subject.mfa_enabled",
    'has(request.context.ticket) || request.user_agent.startsWith("Mozilla/{t}") || request.mfa_age > {k}',
]


def django_setup() -> None:
    import django
    from django.conf import settings

    name = settings.DATABASES["default"]["NAME"]
    if name != BENCH_DB:  # never touch another database
        sys.exit(f"rbac_bench: DATABASE_URL must point at {BENCH_DB}, not {name!r}")
    location = str(settings.CACHES["default"].get("LOCATION", ""))
    if not location.rstrip("/").endswith(f"/{BENCH_REDIS_DB}"):  # never touch another Redis DB
        sys.exit(f"rbac_bench: REDIS_URL must name Redis DB {BENCH_REDIS_DB}, not {location!r}")
    django.setup()


# --- machine ----------------------------------------------------------------------------------------


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _pick_codes(rng: random.Random, codes: list[str], low: int, high: int) -> list[str]:
    return sorted(rng.sample(codes, rng.randint(low, min(high, len(codes)))))


def _seed_org(*, rng: random.Random, org: Any, users: list[Any], n_roles: int, n_teams: int, n_policies: int,
              n_grants: int, team_share: float, owner: Any) -> dict[str, Any]:
    """Roles, memberships (beside the owner's), teams, policies and object grants of one organization, by
    bulk_create: no service, no audit event (the benchmark measures reads)."""
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    from apps.orgs.models import Membership, Team, TeamMembership
    from apps.orgs.roles import SystemRole, system_role_id
    from apps.rbac import catalog
    from apps.rbac.models import Policy, Role, TeamObjectGrant, UserObjectGrant

    codes = sorted(catalog.codes())
    # Roles: random subsets of the catalog; about 40 % inherit from an earlier role (chains of at most 4).
    roles: list[Role] = []
    depth: dict[uuid.UUID, int] = {}
    for i in range(n_roles):
        parent = None
        if i >= 5 and rng.random() < 0.4:
            candidates = [r for r in roles if depth[r.pk] < 3]
            parent = rng.choice(candidates) if candidates else None
        role = Role(id=uuid.UUID(int=rng.getrandbits(128), version=4), organization=org, name=f"role-{i:02d}",
                    description=f"Bench role {i}", permissions=_pick_codes(rng, codes, 2, 10), parent=parent)
        depth[role.pk] = depth[parent.pk] + 1 if parent else 0
        roles.append(role)
    Role.objects.bulk_create(roles)  # parents first: the list is in creation order

    # Memberships: ~60 % custom roles, the rest spread over the system roles (the owner is already a member).
    system = [system_role_id(SystemRole.ADMIN)] * 5 + [system_role_id(SystemRole.MEMBER)] * 25 + [
        system_role_id(SystemRole.VIEWER)] * 8 + [system_role_id(SystemRole.BILLING)] * 2
    members = [u for u in users if u.pk != owner.pk]
    memberships = []
    for user in members:
        role_id = rng.choice(roles).pk if rng.random() < 0.6 else rng.choice(system)
        memberships.append(Membership(id=uuid.UUID(int=rng.getrandbits(128), version=4), organization=org,
                                      user=user, role_id=role_id))
    Membership.objects.bulk_create(memberships)

    # Teams: most with a custom role, some with a system role or none; each member in 0-4 teams.
    teams = []
    for i in range(n_teams):
        r = rng.random()
        role_id = rng.choice(roles).pk if r < 0.75 else (system_role_id(SystemRole.VIEWER) if r < 0.85 else None)
        teams.append(Team(id=uuid.UUID(int=rng.getrandbits(128), version=4), organization=org,
                          name=f"Team {i:02d}", role_id=role_id))
    Team.objects.bulk_create(teams)
    team_rows = []
    for membership in memberships:
        for team in rng.sample(teams, rng.choice((0, 1, 1, 2, 2, 2, 3, 4))):
            team_rows.append(TeamMembership(team=team, membership=membership))
    TeamMembership.objects.bulk_create(team_rows)

    # Object grants on the organization's teams (guardian rows): an auth Permission per (code, Team type),
    # an auth Group per team.
    team_ct = ContentType.objects.get_for_model(Team)
    perms = {code: Permission.objects.get_or_create(content_type=team_ct, codename=code,
                                                    defaults={"name": code})[0] for code in codes}
    groups = {team.pk: Group.objects.get_or_create(name=f"plinto-team:{team.pk}")[0] for team in teams}
    n_team_grants = int(n_grants * team_share)
    user_grants, seen = [], set()
    attempts = 0
    while len(user_grants) < n_grants - n_team_grants and attempts < n_grants * 20:
        attempts += 1
        user, code, team = rng.choice(members), rng.choice(codes), rng.choice(teams)
        if (user.pk, code, team.pk) in seen:
            continue
        seen.add((user.pk, code, team.pk))
        user_grants.append(UserObjectGrant(user=user, permission=perms[code], content_type=team_ct,
                                           object_pk=str(team.pk), organization=org, granted_by=owner))
    team_grants, seen = [], set()
    while len(team_grants) < n_team_grants and attempts < n_grants * 40:
        attempts += 1
        holder, code, team = rng.choice(teams), rng.choice(codes), rng.choice(teams)
        if (holder.pk, code, team.pk) in seen:
            continue
        seen.add((holder.pk, code, team.pk))
        team_grants.append(TeamObjectGrant(group=groups[holder.pk], team=holder, permission=perms[code],
                                           content_type=team_ct, object_pk=str(team.pk), organization=org,
                                           granted_by=owner))
    UserObjectGrant.objects.bulk_create(user_grants, batch_size=2000)
    TeamObjectGrant.objects.bulk_create(team_grants, batch_size=2000)

    # Policies: allow/deny, priorities 0-1000, action patterns with `*`, subjects role:/team:/user:/*,
    # about half with a CEL condition. Denies are narrower (a code, or a resource) so most checks are not
    # simply denied.
    resources = [code.split(":", 1)[0] for code in codes]
    policies = []
    for i in range(n_policies):
        deny = rng.random() < 0.3
        r = rng.random()
        if r < 0.10:
            actions = ["*"]
        elif r < 0.25:
            actions = ["members:*"]
        elif r < 0.35:
            actions = [f"{rng.choice(resources)}:*"]
        elif r < 0.45:
            actions = ["*:read"]
        else:
            actions = _pick_codes(rng, codes, 1, 3)
        if deny and ("*" in actions or "*:read" in actions):  # a blanket deny would refuse nearly every check
            actions = [rng.choice(codes)]
        r = rng.random()
        if deny and r >= 0.75 and rng.random() < 0.7:  # denies mostly name who they refuse
            r = rng.random() * 0.75
        if r < 0.35:
            subjects = [f"role:{rng.choice(roles).name}" for _ in range(rng.randint(1, 3))]
        elif r < 0.55:
            subjects = [f"team:{rng.choice(teams).pk}" for _ in range(rng.randint(1, 2))]
        elif r < 0.75:
            subjects = [f"user:{rng.choice(members).pk}" for _ in range(rng.randint(1, 5))]
        elif r < 0.85:
            subjects = ["*"]
        else:
            subjects = []
        r = rng.random()
        policy_resources = ["team:*"] if r < 0.15 else [f"team:{rng.choice(teams).pk}"] if r < 0.25 else []
        condition = rng.choice(CONDITIONS).format(k=i % 256, h=rng.randint(6, 9), m=rng.randint(0, 59),
                                                  mfa=rng.randint(300, 3600), k2=rng.randint(0, 49),
                                                  t=rng.randint(0, 2)) if rng.random() < 0.5 else ""
        policies.append(Policy(organization=org, name=f"policy-{i:03d}", effect="deny" if deny else "allow",
                               priority=rng.randint(0, 1000), actions=sorted(set(actions)),
                               resources=policy_resources, subjects=sorted(set(subjects)), condition=condition,
                               enabled=True, created_by=owner))
    Policy.objects.bulk_create(policies)
    return {"slug": org.slug, "members": len(memberships) + 1, "roles": len(roles),
            "roles_with_parent": sum(1 for r in roles if r.parent_id), "teams": len(teams),
            "team_memberships": len(team_rows), "user_grants": len(user_grants), "team_grants": len(team_grants),
            "policies": len(policies), "policies_with_condition": sum(1 for p in policies if p.condition),
            "distinct_conditions": len({p.condition for p in policies if p.condition}),
            "deny_policies": sum(1 for p in policies if p.effect == "deny")}


def cmd_seed(args: argparse.Namespace) -> None:
    django_setup()
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction

    from apps.accounts.models import User
    from apps.orgs.services.organizations import organization_create

    t0 = time.monotonic()
    rng = random.Random(20261127)  # noqa: S311 - reproducible data, not secrets
    owner = User.objects.create_user(email=OWNER_EMAIL, password=None)
    main = organization_create(user=owner, name="RBAC bench (main)", slug=MAIN_SLUG)
    noise = [organization_create(user=owner, name=f"RBAC bench noise {i}", slug=NOISE_SLUG.format(i))
             for i in range(args.noise_orgs)]
    unusable = make_password(None)
    with transaction.atomic():
        domains = ("example.com", "example.com", "bench.plinto.test", "corp.example.org")
        users = [User(id=uuid.UUID(int=rng.getrandbits(128), version=4), password=unusable,
                      email=f"person{i:05d}@{domains[i % len(domains)]}") for i in range(args.members + 300)]
        User.objects.bulk_create(users, batch_size=2000)
        result: dict[str, Any] = {"main": _seed_org(rng=rng, org=main, users=users[: args.members - 1],
                                                    n_roles=args.roles, n_teams=args.teams,
                                                    n_policies=args.policies, n_grants=args.grants, team_share=0.25,
                                                    owner=owner)}
        result["noise"] = []
        for k, org in enumerate(noise):  # members drawn from the same people (many belong to several orgs)
            pool = rng.sample(users, 80)
            result["noise"].append(_seed_org(rng=rng, org=org, users=pool, n_roles=8, n_teams=6, n_policies=30,
                                             n_grants=400 + 100 * k, team_share=0.25, owner=owner))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    result["main_org_id"] = str(main.pk)
    result["seed_s"] = round(time.monotonic() - t0, 1)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result["main"], indent=2))
    print(f"  + {len(noise)} noise organizations, seeded in {result['seed_s']} s", flush=True)


# --- measure ----------------------------------------------------------------------------------------


class Timed:
    """Bounded timing loop: `reps` calls (at least `min_reps` within `max_seconds`), per-call ns."""

    def __init__(self, reps: int, max_seconds: float, min_reps: int = 50) -> None:
        self.reps, self.max_seconds, self.min_reps = reps, max_seconds, min_reps

    def run(self, call: Any, setup: Any = None) -> dict[str, Any]:
        samples: list[int] = []
        load = loadavg()
        deadline = time.monotonic() + self.max_seconds
        busy0, total0 = cpu_ticks()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        timed_ns = cpu_ns = 0
        for i in range(self.reps):
            arg = setup(i) if setup is not None else i  # untimed (a cache bump, a member's pick)
            c = time.process_time_ns()
            t = time.perf_counter_ns()
            call(arg)
            dt_ns = time.perf_counter_ns() - t
            cpu_ns += time.process_time_ns() - c
            samples.append(dt_ns)
            timed_ns += dt_ns
            if i >= self.min_reps - 1 and time.monotonic() > deadline:
                break
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        busy1, total1 = cpu_ticks()
        s = sorted(samples)
        us = [x / 1000 for x in s]
        return {"n": len(s), "checks_per_s": round(len(s) / (timed_ns / 1e9)), "p50_us": round(percentile(us, 50), 1),
                "p95_us": round(percentile(us, 95), 1), "p99_us": round(percentile(us, 99), 1),
                "max_us": round(us[-1], 1), "mean_us": round(statistics.fmean(us), 1),
                # this process's CPU per call: steadier than wall time on a busy machine, and without the time
                # spent waiting for PostgreSQL or Redis
                "cpu_us_per_rep": round(cpu_ns / len(s) / 1000, 1), "loadavg_before": load,
                "machine_busy_cores": round((busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1), 2),
                "own_cores": round(cpu / wall, 2) if wall else None}


def _scenario_checks(compiled: tuple) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The checks measured: no resource (roles), a team resource (grants consulted), and the catalog code the
    most policies name (policies dominate)."""
    import fnmatch

    from apps.rbac import catalog

    def matching(code: str) -> int:
        return sum(1 for p in compiled if any(fnmatch.fnmatchcase(code, a) for a in p.actions))

    most = max(sorted(catalog.codes()), key=matching)
    return [
        {"label": "org:read, no resource", "permission": "org:read", "resource": None},
        {"label": "teams:manage on team:<id> (grants)", "permission": "teams:manage", "resource": "team"},
        {"label": f"{most} ({matching(most)} policies match the action)", "permission": most, "resource": "team"},
    ], {code: matching(code) for code in sorted(catalog.codes())}


def show(row: dict[str, Any]) -> None:
    print(f"  {row['group']:<17} {row['label'][:60]:<60} p50 {row['p50_us']:8.1f} µs  p99 {row['p99_us']:8.1f} µs  "
          f"{row['checks_per_s']:>7,}/s  cpu {row['cpu_us_per_rep']:6.0f} µs  (load {row['loadavg_before']})",
          flush=True)


def _profile(call: Any, reps: int, setup: Any, title: str, top: int = 35) -> str:
    profiler = cProfile.Profile()
    for i in range(reps):
        arg = setup(i) if setup is not None else i
        profiler.enable()
        call(arg)
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    out.write(f"=== {title}: {reps} calls, by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(top)
    out.write(f"=== {title}: by own time\n")
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def cmd_measure(args: argparse.Namespace) -> None:  # noqa: PLR0915 - one linear script
    django_setup()
    from django.core.cache import cache as django_cache
    from django.db import connection

    from apps.accounts import hooks as account_hooks
    from apps.orgs.models import Membership, Organization, Team
    from apps.rbac import cache, policies
    from apps.rbac.selectors import member_access
    from apps.rbac.services.decisions import RequestFacts, Resource, decide, user_caller

    rng = random.Random(7)  # noqa: S311
    org = Organization.objects.get(slug=MAIN_SLUG)
    members = list(Membership.objects.filter(organization=org).select_related("user").order_by("user__email"))
    users = [m.user for m in members]
    teams = list(Team.objects.filter(organization=org).order_by("name"))
    team_resources = [Resource("team", str(t.pk)) for t in teams]
    now = datetime.now(UTC)
    paris_day = now.replace(hour=10, minute=0, second=0, microsecond=0)
    facts_pool = [
        RequestFacts(ip="10.1.2.3", time=paris_day, mfa_age=120, user_agent="Mozilla/5.0 (X11; Linux x86_64)"),
        RequestFacts(ip="203.0.113.9", time=paris_day + timedelta(hours=10), mfa_age=-1, user_agent="curl/8.5.0"),
        RequestFacts(ip="192.168.4.20", time=paris_day + timedelta(hours=3), mfa_age=2000,
                     user_agent="plinto-python/2.3.0", context={"ticket": "OPS-1"}),
        RequestFacts(ip="2001:db8::1", time=paris_day - timedelta(hours=2), mfa_age=30, user_agent="Mozilla/5.0"),
    ]
    out: dict[str, Any] = {"started": datetime.now(UTC).strftime("%H:%M:%S UTC"), "source": source_version(*SOURCES),
                           "members": len(users), "teams": len(teams), "rows": [], "components": []}
    ver = cache.versions(org.pk)[1]
    compiled = policies.policy_set(org.pk, ver)
    checks, matching = _scenario_checks(compiled)
    out["policies_compiled"] = len(compiled)
    out["policies_with_condition"] = sum(1 for p in compiled if p.program is not None)
    out["policies_matching_action"] = matching

    def resource_for(check: dict[str, Any], i: int) -> Resource | None:
        return team_resources[i % len(team_resources)] if check["resource"] == "team" else None

    # Warm in-process: a Caller built once per member (snapshot and compiled policies in memory).
    sample = rng.sample(users, min(64, len(users)))
    callers = [user_caller(user=u, organization=org) for u in sample]
    grants = [len(c.grants) for c in callers]
    out["sample_members"] = len(callers)
    out["grants_per_member"] = {"min": min(grants), "median": statistics.median(grants), "max": max(grants)}
    decisions: dict[str, int] = {}

    out["machine_busy_at_start"] = round(wait_for_quiet(args.quiet_wait), 2)
    gc.collect()
    warm = Timed(args.warm_reps, args.max_seconds)
    for check in checks:
        for i in range(200):  # warm-up, and what the decisions are
            d = decide(caller=callers[i % len(callers)], permission=check["permission"],
                       resource=resource_for(check, i), facts=facts_pool[i % len(facts_pool)])
            key = f"{check['permission']}: {'allowed' if d.allowed else 'refused'}"
            decisions[key] = decisions.get(key, 0) + 1

        def warm_call(i: int, check: dict = check) -> None:
            decide(caller=callers[i % len(callers)], permission=check["permission"], resource=resource_for(check, i),
                   facts=facts_pool[i % len(facts_pool)])

        row = {"group": "warm in-process", "label": f"decide(): {check['label']}", "target": "warm",
               **warm.run(warm_call)}
        out["rows"].append(row)
        show(row)
    out["decisions_sampled"] = decisions

    # Warm per request: user_caller() (Redis GET of the version, LRU hit, the MFA status query) + decide().
    per_request = Timed(args.request_reps, args.max_seconds)
    for check in checks:
        def request_call(i: int, check: dict = check) -> None:
            caller = user_caller(user=sample[i % len(sample)], organization=org)
            decide(caller=caller, permission=check["permission"], resource=resource_for(check, i),
                   facts=facts_pool[i % len(facts_pool)])

        row = {"group": "warm per request", "label": f"user_caller() + decide(): {check['label']}",
               "target": None, **per_request.run(request_call)}
        out["rows"].append(row)
        show(row)

    # Cold: a new version (as after any access change): Redis and in-process caches miss.
    cold = Timed(args.cold_reps, args.max_seconds, min_reps=30)
    picks = [(rng.choice(users), checks[i % len(checks)], i) for i in range(args.cold_reps)]

    def cold_call(pick: tuple) -> None:
        user, check, i = pick
        caller = user_caller(user=user, organization=org)
        decide(caller=caller, permission=check["permission"], resource=resource_for(check, i),
               facts=facts_pool[i % len(facts_pool)])

    def after_bump(i: int) -> tuple:
        cache.bump(org.pk)
        return picks[i]

    def after_bump_policies_compiled(i: int) -> tuple:
        cache.bump(org.pk)
        policies.policy_set(org.pk, cache.versions(org.pk)[1])  # an earlier request of this process compiled them
        return picks[i]

    def after_member_change(i: int) -> tuple:
        cache.bump(org.pk, policies=False)  # what a membership, team, grant or key change bumps
        return picks[i]

    def after_local_clear(i: int) -> tuple:
        user_caller(user=picks[i][0], organization=org)  # the snapshot is in Redis under the current version
        cache.local.clear()
        return picks[i]

    cold_variants = [
        ("cold", "after cache.bump(): first check of the version (member from PostgreSQL, the 200 policies loaded)",
         after_bump, "cold"),
        ("cold", "after cache.bump(), policies already compiled (member from PostgreSQL)",
         after_bump_policies_compiled, None),
        ("cold", "after a member, team, grant or key change (member from PostgreSQL, policies kept)",
         after_member_change, "cold"),
        ("cold in-process", "cache.local cleared, warm Redis (member from Redis, policies compiled)",
         after_local_clear, None),
    ]
    for group, label, setup, target in cold_variants:
        for i in range(5):
            cold_call(setup(i))
        row = {"group": group, "label": label, "target": target, **cold.run(cold_call, setup)}
        out["rows"].append(row)
        show(row)

    # Components of the cold path, each on its own.
    comp = Timed(args.cold_reps, args.max_seconds, min_reps=30)
    pick_user = [rng.choice(users) for _ in range(args.cold_reps)]
    ver = cache.version(org.pk)
    for u in pick_user[:50]:
        user_caller(user=u, organization=org)
    redis_keys = [f"rbac:member:{org.pk}:{u.pk}:{ver}" for u in pick_user[:50]]
    components = [
        ("cache.versions(): one Redis MGET", lambda i: cache.versions(org.pk), None),
        ("mfa_enabled(user): the factor UNION query", lambda u: account_hooks.mfa_enabled(u),
         lambda i: pick_user[i]),
        ("member_access(): PostgreSQL", lambda u: member_access(organization_id=org.pk, user_id=u.pk),
         lambda i: pick_user[i]),
        ("member snapshot from Redis (GET + unpickle)", lambda key: django_cache.get(key),
         lambda i: redis_keys[i % len(redis_keys)]),
        ("policy_set(): load the org's policies (a new version)",
         lambda v: policies.policy_set(org.pk, v), lambda i: (cache.bump(org.pk), cache.versions(org.pk)[1])[1]),
    ]
    compile_cache = getattr(policies, "_compiled", None)  # conditions compiled once per process (if memoised)
    if compile_cache is not None and hasattr(compile_cache, "cache_clear"):
        components.append(("policy_set(): load + compile every condition (a new process)",
                            lambda v: policies.policy_set(org.pk, v),
                            lambda i: (cache.bump(org.pk), compile_cache.cache_clear(), cache.versions(org.pk)[1])[2]))
    for label, call, setup in components:
        row = {"group": "component", "label": label, "target": None, **comp.run(call, setup)}
        out["components"].append(row)
        show(row)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM rbac_userobjectgrant WHERE organization_id = %s", [org.pk])
        n_user = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM rbac_teamobjectgrant WHERE organization_id = %s", [org.pk])
        out["grants_in_org"] = n_user + cursor.fetchone()[0]
        cursor.execute("SHOW server_version")
        out["postgres_version"] = cursor.fetchone()[0]

    # Profiles of the cold path and of the warm in-process check (cProfile inflates the small calls).
    profile = [f"# cProfile, rbac bench, {out['started']}; code: {out['source']}", ""]
    heavy = checks[2]
    profile.append(_profile(cold_call, min(100, args.cold_reps), after_bump,
                            "cold: user_caller() + decide() after cache.bump()"))
    profile.append(_profile(cold_call, min(200, args.cold_reps), after_bump_policies_compiled,
                            "cold member, policies compiled: user_caller() + decide()"))
    profile.append(_profile(lambda i: decide(caller=callers[i % len(callers)], permission=heavy["permission"],
                                             resource=resource_for(heavy, i), facts=facts_pool[i % len(facts_pool)]),
                            min(5000, args.warm_reps), None, f"warm in-process decide(): {heavy['label']}"))
    Path(args.profile).write_text("\n".join(profile))
    out["loadavg_end"] = loadavg()
    Path(args.out).write_text(json.dumps(out, indent=2))


# --- report -----------------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> None:
    work = Path(args.work)
    seed = json.loads((work / "seed.json").read_text())
    measure = json.loads((work / "measure.json").read_text())
    machine = json.loads((work / "machine.json").read_text())
    m = seed["main"]
    lines = [f"Access-control benchmark  {machine['stamp']}",
             f"machine: {machine['nproc']} vCPU, {machine['cpu']}, {machine['ram_mib']} MiB RAM; "
             f"Python {machine['python']}, PostgreSQL {measure['postgres_version']}",
             f"loadavg at start: {machine['loadavg_start']}, at the end of the measurements: {measure['loadavg_end']}; "
             f"machine busy at the start of the measurements: {measure['machine_busy_at_start']} of 1", "",
             f"organization: {m['members']} members, {m['roles']} custom roles "
             f"({m['roles_with_parent']} with a parent), "
             f"{m['teams']} teams ({m['team_memberships']} team memberships), {m['policies']} policies "
             f"({m['policies_with_condition']} with a CEL condition, {m.get('distinct_conditions')} distinct; "
             f"{m['deny_policies']} deny), "
             f"{measure['grants_in_org']:,} object grants ({m['user_grants']:,} to users, {m['team_grants']:,} to "
             f"teams); {len(seed['noise'])} noise organizations; seeded in {seed['seed_s']} s",
             f"grants in a sampled member's snapshot: {measure['grants_per_member']}; decisions sampled: "
             f"{measure['decisions_sampled']}",
             f"targets: warm decide() in-process p99 < {TARGET_WARM_US:.0f} µs; cold p99 < {TARGET_COLD_MS:.0f} ms", "",
             "| path | check | n | checks/s | p50 µs | p95 µs | p99 µs | max µs | CPU µs/call | target "
             "| loadavg before |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    missed = []
    for r in measure["rows"] + measure["components"]:
        verdict = "—"
        if r["target"] == "warm":
            ok = r["p99_us"] < TARGET_WARM_US
            verdict = f"< {TARGET_WARM_US:.0f} µs: " + ("met" if ok else "**missed**")
        elif r["target"] == "cold":
            ok = r["p99_us"] < TARGET_COLD_MS * 1000
            verdict = f"< {TARGET_COLD_MS:.0f} ms: " + ("met" if ok else "**missed**")
        else:
            ok = True
        if not ok:
            missed.append(f"{r['group']}: {r['label']}")
        lines.append(f"| {r['group']} | {r['label']} | {r['n']:,} | {r['checks_per_s']:,} | {r['p50_us']} | "
                     f"{r['p95_us']} | {r['p99_us']} | {r['max_us']} | {r['cpu_us_per_rep']} | {verdict} | "
                     f"{r['loadavg_before']} |")
    lines += ["", f"measured from {measure['started']}; code: {measure['source']}",
              "targets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)),
              f"profiles: {args.out}-profile.txt"]
    text = "\n".join(lines)
    print(text)
    Path(args.out + ".txt").write_text(text + "\n")
    Path(args.out + ".json").write_text(json.dumps({"machine": machine, "seed": seed, "measure": measure,
                                                    "missed": missed}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("seed")
    p.add_argument("--members", type=int, default=500)
    p.add_argument("--roles", type=int, default=50)
    p.add_argument("--teams", type=int, default=20)
    p.add_argument("--policies", type=int, default=200)
    p.add_argument("--grants", type=int, default=10_000)
    p.add_argument("--noise-orgs", type=int, default=5)
    p.add_argument("--out", required=True)
    p = sub.add_parser("measure")
    p.add_argument("--warm-reps", type=int, default=20_000)
    p.add_argument("--request-reps", type=int, default=3_000)
    p.add_argument("--cold-reps", type=int, default=300)
    p.add_argument("--max-seconds", type=float, default=30.0, help="per scenario (a minimum of reps is kept)")
    p.add_argument("--quiet-wait", type=float, default=20.0)
    p.add_argument("--out", required=True)
    p.add_argument("--profile", required=True)
    p = sub.add_parser("report")
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True, help="path prefix: .txt and .json are added")
    args = parser.parse_args()
    commands = {"seed": cmd_seed, "measure": cmd_measure, "report": cmd_report}
    commands[args.cmd](args)


if __name__ == "__main__":
    main()
