"""The person's requests under the GDPR: an access copy, a rectification, an erasure (issue #19).

The person files a request (``Client.file_request``); the coordinating organisation or the
deployment's ``data_protection_officer`` decides it (``Client.decide_request``) with its legal
ground, **within one month** of receiving it (GDPR art. 12(3): "without undue delay and in any
event within one month"; the extension by two further months for complex requests is the
decider's to state in the decision, it is not applied here). The record holds the answer's due
date from the day the request is filed (``answer_due_on``); the scheduler records a reminder
a week before and the day it passes undecided (``Client.record_request_deadline``).

An erasure request may be refused on a legal ground: seed 004 keeps the record of care at
least ten years after the end of service (art. 17(3)(b), a legal obligation). The decision
does not erase anything by itself: a granted erasure is carried out by the
``data_protection_officer``'s erasure (``POST /v1/clients/{id}/erasure``), a granted
rectification by the organisation's command that records the corrected fact.
"""

from datetime import date, datetime
from enum import StrEnum

import msgspec

from domain.common import add_months

#: GDPR art. 12(3): the answer is due within one month of receipt.
ANSWER_WITHIN_MONTHS = 1
#: The reminder to the deciders, this many days before the answer is due.
REMIND_DAYS_BEFORE = 7


class RequestKind(StrEnum):
    #: Art. 15: a copy of the personal data.
    ACCESS_COPY = "access_copy"
    #: Art. 16: a named field corrected.
    RECTIFICATION = "rectification"
    #: Art. 17: the personal data erased.
    ERASURE = "erasure"


class RequestOutcome(StrEnum):
    GRANTED = "granted"
    PARTLY_GRANTED = "partly_granted"
    REFUSED = "refused"


class RequestDeadline(StrEnum):
    """What the scheduler records about a request's due date."""

    REMINDER = "reminder"
    PASSED = "passed"


class PersonRequest(msgspec.Struct):
    kind: RequestKind
    #: For a rectification: the field the person names (``name``, ``contact``, a goal …).
    field_name: str | None
    details: str
    filed_at: datetime
    answer_due_on: date
    outcome: RequestOutcome | None = None
    legal_ground: str | None = None
    decided_at: datetime | None = None
    decided_by_role: str | None = None
    reminded: bool = False
    deadline_passed: bool = False

    @property
    def open(self) -> bool:
        return self.outcome is None


def answer_due_on(filed_on: date) -> date:
    """GDPR art. 12(3): one month from receipt."""
    return add_months(filed_on, ANSWER_WITHIN_MONTHS)


def deadline_due(request: PersonRequest, today: date) -> RequestDeadline | None:
    """What the scheduler should record about an open request today, if anything not yet
    recorded: the deadline passed (after its due day), or the reminder (a week before)."""
    if not request.open:
        return None
    if today > request.answer_due_on and not request.deadline_passed:
        return RequestDeadline.PASSED
    reminder_from = date.fromordinal(request.answer_due_on.toordinal() - REMIND_DAYS_BEFORE)
    if reminder_from <= today <= request.answer_due_on and not request.reminded:
        return RequestDeadline.REMINDER
    return None
