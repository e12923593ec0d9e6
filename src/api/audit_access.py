"""An auditor's reads of a trajectory's record, decided once for the API's audit routes and the
pages' as-of view (issue #23): auditors of the trajectory's region only, decided from the record
itself, every read logged as a read of the client's personal data.
"""

from datetime import UTC, datetime
from uuid import UUID

import anyio.to_thread

from api.access import AUDITORS, AccessPolicy
from api.audit_views import as_of_answer
from api.common import Caller, read_entry
from api.problems import refused_field
from api.schemas import TrajectoryAsOfAnswer
from api.services import ApiServices
from application.audit_record import AuditRecord, TrajectoryRecord
from domain.common import CLOCK_SKEW
from domain.errors import TrajectoryNotFound


async def audited_record(
    services: ApiServices,
    request: Caller,
    trajectory_id: UUID,
    what: str,
    purpose: str | None = None,
) -> TrajectoryRecord:
    """The auditor acting, and the trajectory's record: decided from the record itself (its
    referral names the region), never a read model that may lag; 404 outside the region; the
    read logged as a read of the client's personal data (with ``purpose``: an export's)."""
    policy: AccessPolicy = services.policy
    action = f"read a trajectory's {what}"
    acting = policy.require_role(request.user, action, AUDITORS)
    try:
        record = await anyio.to_thread.run_sync(
            lambda: AuditRecord(services.care_record).record(trajectory_id)
        )
        referral = await anyio.to_thread.run_sync(lambda: record.referral)
    except TrajectoryNotFound as missing:
        raise policy.hidden(acting, action, missing) from None
    if referral.region != acting.region:
        raise policy.hidden(
            acting, action, TrajectoryNotFound(f"no trajectory with id {trajectory_id}")
        )
    entry = read_entry(request, acting, referral.client_id, trajectory_id, purpose=purpose)
    await anyio.to_thread.run_sync(services.access_log.record, entry)
    return record


def in_calendar(name: str, moment: datetime) -> datetime:
    """A moment whose time in UTC has a date (years 1 to 9999): the record compares moments
    in UTC, and ``9999-12-31T23:59:59-14:00`` has none (a client error, never a 500). And
    not in the future (beyond ``CLOCK_SKEW``, as commands take ``occurred_at``): an answer as of
    2028 would show deadlines "due" that have not passed, a prediction an auditor could take,
    and sign in an export, for a fact."""
    field = "as_of" if name.startswith("as_of") else name
    try:
        in_utc = moment.astimezone(UTC)
    except OverflowError:
        told = f"{name} lies outside the years 1 to 9999 once taken to UTC; name a moment in them"
        raise refused_field(field, told) from None
    now = datetime.now(UTC)
    if in_utc > now + CLOCK_SKEW:
        told = (
            f"{name} lies in the future (the server's time is {now.isoformat(timespec='seconds')})"
            ": the record tells what happened and what was recorded up to now; name a moment "
            "up to now"
        )
        raise refused_field(field, told)
    return moment


async def read_as_of(
    services: ApiServices,
    request: Caller,
    trajectory_id: UUID,
    occurred: datetime | None,
    recorded: datetime | None,
) -> TrajectoryAsOfAnswer:
    """The trajectory as of ``occurred`` (the state then, as known now) and/or ``recorded``
    (what the record showed then), for an auditor of its region."""
    moments = {"occurred": occurred, "recorded": recorded}
    for name, moment in moments.items():
        if moment is not None and moment.tzinfo is None:
            told = f"{name} needs a time zone offset, e.g. 2026-03-12T00:00:00+01:00"
            raise refused_field(name, told)
        if moment is not None:
            in_calendar(name, moment)
    if occurred is None and recorded is None:
        told = (
            "name the moment: occurred=T (the state at T as known now), recorded=T (what "
            "the record showed at T), or both"
        )
        raise refused_field("occurred", told)
    record = await audited_record(services, request, trajectory_id, "as-of")
    answer = await anyio.to_thread.run_sync(
        lambda: AuditRecord(services.care_record, services.deadline_policy).as_of(
            trajectory_id, occurred=occurred, recorded=recorded, record=record
        )
    )
    return as_of_answer(trajectory_id, occurred, recorded, answer)
