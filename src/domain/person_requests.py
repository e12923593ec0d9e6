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

The erasure settles the client's open requests, in the same commit (``Client.erase``): an
erasure request as granted by it, any other as closed, the client's data being erased
(``Client.RequestSettledByErasure``, a fact without personal data). An erased record takes no
decision any more (its requests are no longer open: the deciders' queue drops them and the
scheduler reminds of them no more). An erasure recorded before this rule settles them as it is
replayed, the same way.
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
    #: Settled by the client's erasure (``Client.RequestSettledByErasure``): an erasure request
    #: granted by it (``outcome`` granted), another closed undecided (``outcome`` None).
    settled_by_erasure: bool = False

    @property
    def open(self) -> bool:
        return self.outcome is None and not self.settled_by_erasure

    @property
    def status(self) -> str:
        """``open``, the decision's outcome, or ``closed_by_erasure`` (settled undecided)."""
        if self.outcome is not None:
            return self.outcome.value
        return "closed_by_erasure" if self.settled_by_erasure else "open"


def settled_by_erasure(request: PersonRequest) -> RequestOutcome | None:
    """What the client's erasure makes of an open request: an erasure request is granted (the
    erasure carries it out); another is closed without a decision (there is nothing left to
    copy or correct)."""
    return RequestOutcome.GRANTED if request.kind == RequestKind.ERASURE else None


def settle_by_erasure(
    request: PersonRequest, outcome: RequestOutcome | None, at: datetime, role: str
) -> None:
    request.settled_by_erasure = True
    request.outcome = outcome
    request.decided_at = at
    request.decided_by_role = role


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
