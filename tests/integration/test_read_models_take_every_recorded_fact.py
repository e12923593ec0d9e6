"""The read models take every fact the log holds, even one no command records any more.

Before the domain refused control characters in identifiers (issue #10), a role agreement could
name a party with a NUL, and PostgreSQL text cannot hold one: the projection failed on that
event, retried it forever, and every read model stopped there. The log keeps such a fact as it
was recorded, so the read models must take it: on PostgreSQL a U+FFFD stands in for the NUL.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from application.care_record import CareRecord
from application.commands import Accept, Refer, RegisterClient
from domain.common import Actor, CommandContext, Role, Sector
from domain.trajectory import RoleAssignment, Trajectory
from rodedraad.wiring import build_care_record, build_projection_worker
from tests.integration.databases import BACKENDS, fresh_settings, rows
from tests.support import on_trajectory, said

COORDINATOR = Actor(user_id="user-an", organisation="org-coordinating", role="coordinator")
#: A party named as no command may name one today.
PARTY = "org\x00next"


def context(days_ago: int) -> CommandContext:
    now = datetime.now(UTC)
    return CommandContext(
        actor=COORDINATOR,
        occurred_at=now - timedelta(days=days_ago),
        correlation_id="legacy",
        causation_id=None,
        now=now,
    )


def accepted_trajectory(record: CareRecord) -> UUID:
    client = record.register_client(context(30), said(RegisterClient, context(30), name="Sam"))
    referred = record.refer(
        context(20),
        said(
            Refer,
            context(20),
            client_id=client.id,
            question="Support at home",
            client_criteria=(),
            referrer_engagement="",
            sector=Sector.YOUTH_CARE,
            region="elz-gent",
        ),
    )
    on_trajectory(record, context(19), referred.id, None, Accept, coordinating_organisation=None)
    return referred.id


def record_a_party_with_a_nul(record: CareRecord, trajectory_id: UUID) -> None:
    """What a role agreement left in the log before the domain refused it: proposed to and
    accepted by ``PARTY``, written past today's checks."""
    trajectory = record.repository.get(trajectory_id)
    envelope = context(10).event_fields()
    trajectory.trigger_event(
        Trajectory.RoleAgreementProposed,
        **envelope,
        agreement_id="roles-legacy",
        assignments=(RoleAssignment(party=PARTY, role=Role.PROVIDER),),
    )
    trajectory.trigger_event(
        Trajectory.RoleAgreementAccepted, **envelope, agreement_id="roles-legacy", party=PARTY
    )
    record.save(trajectory)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_party_recorded_with_a_nul_does_not_stop_the_read_models(
    backend: str, tmp_path: Path
) -> None:
    with fresh_settings(backend, tmp_path) as settings:
        record = build_care_record(settings)
        worker = build_projection_worker(settings, record)
        try:
            record_a_party_with_a_nul(record, accepted_trajectory(record))

            worker.catch_up()

            head = record.recorder.max_notification_id()
            positions = rows(worker.database, "SELECT name, position FROM rm_tracking")
            assert {position for _, position in positions} == {head}
        finally:
            worker.database.close()
            record.close()
