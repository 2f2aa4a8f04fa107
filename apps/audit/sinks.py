"""SIEM streaming: each committed event of an organization with a sink, as one JSON line.

`Organization.audit_sink` (set by staff in the admin) picks the sink per organization; the platform
chain's is `settings.AUDIT_PLATFORM_SINK`. "" means none.

- "stdout": the `plinto.audit.siem` logger. Unless LOGGING configures that logger, it gets one handler
  writing the bare line to standard output and does not propagate (the line is not also reformatted
  by the root handler), so a log shipper reading the container's stdout sees exactly one JSON document.
- "syslog": `logging.handlers.SysLogHandler` at `settings.AUDIT_SYSLOG_ADDRESS` ("/dev/log" when that
  exists, else ("localhost", 514); a path, "host:port" or a (host, port) pair), facility
  `settings.AUDIT_SYSLOG_FACILITY` ("auth"), created on first use and again when the address changes.

`siem_forward` is an event-stream subscriber: it runs after commit only, so a rolled-back event is never
forwarded, and a sink that fails is logged by the registry without touching the request or the event.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

from django.apps import apps as django_apps
from django.conf import settings

from apps.audit import subscribers
from apps.audit.documents import event_document
from apps.audit.models import SinkKind

if TYPE_CHECKING:
    from apps.audit.models import AuditEvent

SIEM_LOGGER = "plinto.audit.siem"
SYSLOG_IDENT = "plinto-audit: "

_lock = threading.Lock()
_stdout_configured = False
_syslog: tuple[tuple[Any, int], logging.handlers.SysLogHandler] | None = None


def event_line(event: AuditEvent) -> str:
    return json.dumps(event_document(event), separators=(",", ":"), ensure_ascii=False)


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever `sys.stdout` is when the line is written (a process or test runner may swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def _siem_logger() -> logging.Logger:
    global _stdout_configured
    logger = logging.getLogger(SIEM_LOGGER)
    if not _stdout_configured:
        with _lock:
            if not _stdout_configured:
                if not logger.handlers:  # LOGGING may route the stream elsewhere; by default, bare lines on stdout
                    handler = _StdoutHandler()
                    handler.setFormatter(logging.Formatter("%(message)s"))
                    logger.addHandler(handler)
                    logger.propagate = False
                if logger.level == logging.NOTSET:
                    logger.setLevel(logging.INFO)
                _stdout_configured = True
    return logger


class _SiemSysLogHandler(logging.handlers.SysLogHandler):
    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        raise  # called inside emit()'s `except`: the subscriber registry logs the failure with the event id


def _syslog_address() -> Any:
    configured = getattr(settings, "AUDIT_SYSLOG_ADDRESS", "") or ("/dev/log" if os.path.exists("/dev/log")
                                                                    else ("localhost", 514))
    if isinstance(configured, (list, tuple)):
        return (str(configured[0]), int(configured[1]))
    if not configured.startswith("/") and ":" in configured:
        host, _, port = configured.rpartition(":")
        return (host.strip("[]"), int(port))
    return configured


def _syslog_handler() -> logging.handlers.SysLogHandler:
    global _syslog
    facility_name = getattr(settings, "AUDIT_SYSLOG_FACILITY", "auth")
    key = (_syslog_address(), logging.handlers.SysLogHandler.facility_names[facility_name])
    with _lock:
        if _syslog is None or _syslog[0] != key:
            if _syslog is not None:
                _syslog[1].close()
            handler = _SiemSysLogHandler(address=key[0], facility=key[1])
            handler.setFormatter(logging.Formatter("%(message)s"))
            handler.ident = SYSLOG_IDENT
            _syslog = (key, handler)
        return _syslog[1]


def _send_stdout(line: str) -> None:
    _siem_logger().info("%s", line)


def _send_syslog(line: str) -> None:
    record = logging.LogRecord(SIEM_LOGGER, logging.INFO, __file__, 0, "%s", (line,), None)
    _syslog_handler().handle(record)


_SENDERS = {SinkKind.STDOUT: _send_stdout, SinkKind.SYSLOG: _send_syslog}


def sink_for(event: AuditEvent) -> str:
    """The sink configured for the event's chain ("" for none)."""
    if event.organization_id is None:
        return getattr(settings, "AUDIT_PLATFORM_SINK", "")
    # Through the app registry, not an import: audit sits below orgs (ARCHITECTURE.md).
    organization = django_apps.get_model("orgs", "Organization")
    return organization.objects.filter(pk=event.organization_id).values_list("audit_sink", flat=True).first() or ""


def siem_forward(event: AuditEvent) -> None:
    """Event-stream subscriber (on commit): forward the event to its chain's SIEM sink, if any."""
    send = _SENDERS.get(sink_for(event))
    if send is not None:
        send(event_line(event))


# Future "audit.event" webhook (a customer's SIEM over HTTPS): it plugs in beside this subscriber, as its
# own `subscribers.subscribe(...)` registered by apps.webhooks at start-up (webhooks sits above audit),
# turning each committed event into a delivery row for that organization's endpoints subscribed to
# "audit.event", with `event_document(event)` as the payload so every sink carries the same shape.
subscribers.subscribe(siem_forward)
