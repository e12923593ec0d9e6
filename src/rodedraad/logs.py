"""structlog set-up: JSON lines when not on a terminal, readable on one; never personal data.

Only ids, routes, statuses, rule names and durations are logged; request bodies never reach a
log call. As a second line of defence, a processor redacts any field whose name is one of the
personal or free-text fields of the record, and tracebacks are rendered without local variables
(which could hold a request's data).
"""

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

#: Field names that hold personal data or free text somewhere in the record or the API.
PERSONAL_FIELDS = frozenset(
    {
        "name",
        "contact",
        "personal",
        "question",
        "client_criteria",
        "referrer_engagement",
        "description",
        "decisions",
        "reason",
        "no_next_reason",
        "no_follow_up_reason",
        "results",
        "new_agreements",
        "outcome",
        "resolution",
        "purpose",
        "responsibilities",
        "carried_goals",
        "person_ref",
        # Issue #19: an identity provider's subject, its keyed hash, a year of birth.
        "subject",
        "subject_hash",
        "birth_year",
        # Issue #19 point 5: the person's own words (a request, their input) and a decision's
        # legal ground, which may name them.
        "details",
        "field_name",
        "statement",
        "legal_ground",
        "body",
        "data",
        "authorization",
        "token",
    }
)
REDACTED = "[redacted]"


def redact_personal_fields(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in event_dict.keys() & PERSONAL_FIELDS:
        event_dict[key] = REDACTED
    return event_dict


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            redact_personal_fields,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries that log through the standard library go to stderr at warning and above.
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
