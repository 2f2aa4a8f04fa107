"""Policy conditions in CEL (Common Expression Language, as in Google Cloud IAM Conditions and Kubernetes).

We use the `common-expression-language` package (Rust `cel` crate behind Python bindings): a real,
non-Turing-complete, side-effect-free language, compiled once per policy and evaluated in about a
microsecond. A condition sees four variables:

- `subject`: {type: "user"|"api_key", id, email, roles: [names], teams: [ids], mfa_enabled}
- `resource`: {type, id} (the organization itself when the check names no object)
- `request`: {ip, time (timestamp), mfa_age (seconds since the last second factor, or -1), user_agent,
  context (a map the caller of POST /rbac/check may fill: test keys with `has(request.context.owner)`)}
- `organization`: {id, slug, name, mfa_required}

and these helpers on top of CEL's standard library:

- `inCidr(ip, "10.0.0.0/8")` → bool (false for a malformed address)
- `timeBetween(request.time, "09:00", "17:30", "Europe/Paris")` → bool (wraps midnight when start > end)
- `hourOf(request.time, "UTC")` → int 0–23, `weekday(request.time, "UTC")` → int 1 (Monday)–7 (Sunday)

A condition is validated when a policy is saved: it must parse, name only these variables, attributes
and functions, and yield a bool on a sample request. At check time an evaluation error fails closed: a
deny whose condition fails denies, an allow whose condition fails does not allow (apps.rbac.policies).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import zoneinfo
from functools import lru_cache
from typing import Any

import cel

VARIABLES = ("subject", "resource", "request", "organization")
MAX_LENGTH = 2000
_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class InvalidCondition(ValueError):
    """The expression cannot be saved; the message is the parser's or names what is unknown."""


class ConditionError(RuntimeError):
    """The expression failed while evaluating one request."""


@lru_cache(maxsize=256)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _local(moment: Any, zone: str) -> dt.datetime:
    if not isinstance(moment, dt.datetime):
        raise TypeError("expected a timestamp such as request.time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(_zone(zone))


def _minutes(hh_mm: str) -> int:
    match = _HH_MM.match(hh_mm) if isinstance(hh_mm, str) else None
    if match is None:
        raise ValueError(f"expected a time of day as 'HH:MM', got {hh_mm!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


@lru_cache(maxsize=1024)
def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(cidr, strict=False)


@lru_cache(maxsize=1024)
def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(ip)


def in_cidr(ip: Any, cidr: Any) -> bool:
    network = _network(str(cidr))  # a malformed CIDR is the policy's error
    try:
        address = _address(str(ip))
    except ValueError:
        return False
    return address.version == network.version and address in network


def time_between(moment: Any, start: Any, end: Any, zone: Any = "UTC") -> bool:
    local = _local(moment, str(zone))
    now, begin, finish = local.hour * 60 + local.minute, _minutes(start), _minutes(end)
    return begin <= now < finish if begin <= finish else now >= begin or now < finish


def hour_of(moment: Any, zone: Any = "UTC") -> int:
    return _local(moment, str(zone)).hour


def weekday(moment: Any, zone: Any = "UTC") -> int:
    return _local(moment, str(zone)).isoweekday()


FUNCTIONS = {"inCidr": in_cidr, "timeBetween": time_between, "hourOf": hour_of, "weekday": weekday}


def sample_activation() -> dict[str, Any]:
    """A complete activation with every attribute a condition may name (for validation)."""
    return {
        "subject": {"type": "user", "id": "00000000-0000-0000-0000-000000000000", "email": "someone@example.com",
                    "roles": ["member"], "teams": [], "mfa_enabled": True},
        "resource": {"type": "organization", "id": "00000000-0000-0000-0000-000000000000"},
        "request": {"ip": "192.0.2.1", "time": dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC), "mfa_age": 60,
                    "user_agent": "Mozilla/5.0", "context": {}},
        "organization": {"id": "00000000-0000-0000-0000-000000000000", "slug": "acme", "name": "Acme",
                         "mfa_required": False},
    }


def _context(activation: dict[str, Any]) -> cel.Context:
    context = cel.Context()
    for name, function in FUNCTIONS.items():
        context.add_function(name, function)
    for name in VARIABLES:
        context.add_variable(name, activation.get(name, {}))
    return context


_ATTRIBUTE = re.compile(r"(?<![\w.])(" + "|".join(VARIABLES) + r")\s*\.\s*([A-Za-z_]\w*)")


def _code_only(expression: str) -> str:
    """`expression` with its string literals emptied and its comments dropped (for the attribute check)."""
    out: list[str] = []
    i, n = 0, len(expression)
    while i < n:
        char = expression[i]
        if expression.startswith("//", i):
            end = expression.find("\n", i)
            i = n if end < 0 else end
            continue
        if char in "\"'":
            prefix = re.search(r"(?<![\w])[rRbB]{1,2}$", expression[max(0, i - 3):i])
            raw = prefix is not None and "r" in prefix.group(0).lower()
            quote = char * 3 if expression.startswith(char * 3, i) else char
            j = i + len(quote)
            while j < n and not expression.startswith(quote, j):
                j += 2 if expression[j] == "\\" and not raw else 1
            out.append(quote * 2)
            i = j + len(quote)
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _unknown_attributes(expression: str) -> list[str]:
    """`request.nope` and the like, wherever they are (evaluating the sample only visits one branch)."""
    sample = sample_activation()
    return sorted({f"{variable}.{name}" for variable, name in _ATTRIBUTE.findall(_code_only(expression))
                   if name not in sample[variable]})


def compile_condition(expression: str) -> cel.Program:
    """Parse and check `expression`; raise InvalidCondition with a message fit for the API's errors."""
    if len(expression) > MAX_LENGTH:
        raise InvalidCondition(f"A condition is at most {MAX_LENGTH} characters.")
    try:
        program = cel.compile(expression)
    except ValueError as exc:
        raise InvalidCondition(str(exc)) from None
    unknown = _unknown_attributes(expression)
    if unknown:
        raise InvalidCondition(f"Unknown attribute {', '.join(unknown)}: see docs/access-control.md for the "
                               "attributes of subject, resource, request and organization.")
    try:
        result = program.execute(_context(sample_activation()))
    except KeyError as exc:
        raise InvalidCondition(f"Unknown attribute {exc.args[0]!r}: see docs/access-control.md for the attributes "
                               "of subject, resource, request and organization.") from None
    except RuntimeError as exc:  # undefined variable or function, or a helper refusing its arguments
        raise InvalidCondition(str(exc)) from None
    except TypeError as exc:  # no such overload (`request.ip > 5`): the sample has every attribute's real type
        raise InvalidCondition(str(exc)) from None
    except Exception:  # noqa: BLE001, S110 - data-dependent failures (bad CIDR in a branch, division) are not syntax
        return program
    if not isinstance(result, bool):
        raise InvalidCondition(f"A condition must yield true or false, not {type(result).__name__}.")
    return program


def evaluate(program: cel.Program, activation: dict[str, Any]) -> bool:
    try:
        result = program.execute(_context(activation))
    except Exception as exc:  # noqa: BLE001 - any failure of a user's expression is a ConditionError (deny)
        raise ConditionError(f"{type(exc).__name__}: {exc}") from None
    if not isinstance(result, bool):
        raise ConditionError(f"yielded {type(result).__name__}, not a bool")
    return result


def program_variables(program: cel.Program) -> frozenset[str]:
    """Which of the four variables `program` names (static analysis; all four if the binding cannot tell)."""
    try:
        return frozenset(program.variables()).intersection(VARIABLES)
    except Exception:  # noqa: BLE001 - an older binding: assume every variable
        return frozenset(VARIABLES)


# A variable, and the attribute read right after it, if any (and whether that is a call: `subject.all(...)`).
_OCCURRENCE = re.compile(r"(?<![\w.])(" + "|".join(VARIABLES) + r")\b(?:\s*\.\s*([A-Za-z_]\w*)(\s*\()?)?")


def program_needs(expression: str, program: cel.Program) -> dict[str, frozenset[str] | None]:
    """Per variable `program` names: the attributes it reads (`subject.email` → {"email"}), or None when it
    uses the variable in any other way (`size(subject)`, `subject["email"]`, `subject.all(...)`), which
    needs the whole value. Errs towards more: anything that looks like a use counts."""
    needs: dict[str, frozenset[str] | None] = dict.fromkeys(program_variables(program), frozenset())
    for match in _OCCURRENCE.finditer(_code_only(expression)):
        variable, attribute, call = match.groups()
        if attribute is None or call:
            needs[variable] = None
        elif needs.get(variable, frozenset()) is not None:
            needs[variable] = needs.get(variable, frozenset()) | {attribute}
    return {name: (None if attributes == frozenset() else attributes) for name, attributes in needs.items()}


_PLAIN_SCALARS = frozenset({str, bool, int, float, type(None), dt.datetime})


def _plain(value: Any, depth: int = 0) -> bool:
    """True for data the CEL binding always converts (JSON-like values, datetimes); exact types only."""
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return True
    if depth > 20:
        return False
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (type(item) not in _PLAIN_SCALARS and not _plain(item, depth + 1)):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:
            if type(item) not in _PLAIN_SCALARS and not _plain(item, depth + 1):
                return False
        return True
    return False


_UNSET = object()


class Evaluator:
    """Evaluates any number of conditions against one activation (one check), as `evaluate` does.

    Converting a value into CEL is slow (the binding walks it: 1–2 µs per string, 5–20 µs per variable) and
    one check can meet dozens of conditions: the context is built once, at the first condition, and a
    variable is converted when a condition first needs it, with only the attributes that the conditions read
    (program_needs; those of `expected` too, so that it is converted once). If some value might not convert
    (anything but plain data: only Python callers can pass such facts), every condition goes through
    `evaluate`, which converts all four variables each time, so a conversion failure fails every condition
    exactly as there.
    """

    def __init__(self, activation: dict[str, Any], *,
                 expected: dict[str, frozenset[str] | None] | None = None) -> None:
        """`expected`: what the conditions this check may meet read, together (converted at the first need)."""
        self._activation = activation
        self._expected = expected or {}
        self._context: cel.Context | None = None
        self._added: dict[str, frozenset[str] | None] = {}  # variable → attributes converted (None: all)
        self._plain: bool | None = None

    def evaluate(self, program: cel.Program, needs: dict[str, frozenset[str] | None] | None = None) -> bool:
        """`needs`: program_needs(source, program), when the caller has it (else whole variables)."""
        if self._plain is None:
            self._plain = all(_plain(self._activation.get(name, {})) for name in VARIABLES)
        if not self._plain:
            return evaluate(program, self._activation)
        try:
            context = self._context
            if context is None:
                context = self._context = cel.Context()
                for name, function in FUNCTIONS.items():
                    context.add_function(name, function)
            if needs is None:
                needs = dict.fromkeys(program_variables(program))
            for name, attributes in needs.items():
                have = self._added.get(name, _UNSET)
                if have is None or (have is not _UNSET and attributes is not None and attributes <= have):
                    continue
                value = self._activation.get(name, {})
                if attributes is None or type(value) is not dict:
                    context.add_variable(name, value)
                    self._added[name] = None
                else:
                    wanted = attributes if have is _UNSET else attributes | have
                    if name in self._expected:
                        wanted = None if self._expected[name] is None else wanted | self._expected[name]
                    if wanted is None:
                        context.add_variable(name, value)
                    else:
                        context.add_variable(name, {key: value[key] for key in wanted if key in value})
                    self._added[name] = wanted
            result = program.execute(context)
        except Exception as exc:  # noqa: BLE001 - as in evaluate()
            raise ConditionError(f"{type(exc).__name__}: {exc}") from None
        if not isinstance(result, bool):
            raise ConditionError(f"yielded {type(result).__name__}, not a bool")
        return result
