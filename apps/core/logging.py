"""Log formatting: structured JSON in production, readable lines in development, request id in both.

Built on structlog's ProcessorFormatter so that every standard-library logger (Django's, Celery's,
ours) goes through the same processors.
"""

import logging

import structlog

from apps.core.context import current_request_id


class RequestIdFilter(logging.Filter):
    """Stamps the current request id (or None outside a request) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            # django.request logs after the middleware has returned, but passes the request along.
            record.request_id = current_request_id() or getattr(getattr(record, "request", None), "request_id", None)
        return True


def _add_request_id(logger: object, method_name: str, event_dict: dict) -> dict:
    record = event_dict.get("_record")
    event_dict["request_id"] = getattr(record, "request_id", None) or current_request_id()
    return event_dict


_PRE_CHAIN = [
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _add_request_id,
]


def json_formatter() -> structlog.stdlib.ProcessorFormatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_PRE_CHAIN,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )


def console_formatter() -> structlog.stdlib.ProcessorFormatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_PRE_CHAIN,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
    )
