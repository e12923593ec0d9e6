"""From the case to the network without a trace back (issue #14 point 2), on SQLite and
PostgreSQL: the trajectory records that it shared, the proposal waits in its region's batch (no
trajectory id there), and enters the network as a case finding of "a coordinator of the region"
only with three trajectories or after a month, with ids of its own."""

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest

from application.care_record import CareRecord
from application.commands import (
    Accept,
    AppointRepresentative,
    EraseClient,
    EstablishLearningNetwork,
    HoldConsultation,
    Refer,
    RegisterClient,
    ShareFinding,
)
from application.finding_batches import BATCHES, PROPOSALS, FindingBatches, release_due
from domain.common import ClientInvolvement, ConsultationKind, Sector
from domain.learning_network import (
    LearningNetwork,
    LearningNetworkNotFound,
    NetworkLevel,
    ProposerKind,
    ThemeSource,
    network_id,
)
from domain.shared_findings import ConfirmationMissing, IdentifyingText
from domain.trajectory import Trajectory
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record, build_finding_batches, deliver_to
from tests.support import on_client, on_trajectory, said
from tests.unit.builders import NOW, PARTICIPANTS, REFERRER, ctx, on

#: The tests of a session share its PostgreSQL database: a region (and network) of each test's own.
REGION = "west-flanders"
FINDING = (
    "Youth care waits months for a residential place; the school was not at the table until "
    "the three-month consultation."
)


@pytest.fixture
def record(
    any_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[CareRecord, FindingBatches]]:
    monkeypatch.setattr(sys.modules[__name__], "REGION", f"r-{uuid4().hex[:8]}")
    care_record = build_care_record(any_settings)
    batches = build_finding_batches(any_settings)
    care_record.establish_learning_network(
        ctx(0),
        said(
            EstablishLearningNetwork,
            ctx(0),
            level=NetworkLevel.MESO,
            region=REGION,
            coordinating_organisation="org-chair",
        ),
    )
    yield care_record, batches
    batches.close()
    care_record.close()


def running(app: CareRecord, name: str = "Émile De Smet") -> tuple[UUID, UUID]:
    """A client with a representative, and a started trajectory in the region."""
    client = app.register_client(ctx(0), said(RegisterClient, ctx(0), name=name)).id
    on_client(
        app, ctx(0), client, None, AppointRepresentative, representative_ref="rep-mother",
        name="Françoise Maes",
    )  # fmt: skip
    trajectory = app.refer(
        ctx(0),
        said(
            Refer,
            ctx(0),
            referrer_organisation=REFERRER.organisation,
            client_id=client,
            question="Wie helpt terug naar school?",
            sector=Sector.YOUTH_CARE,
            region=REGION,
        ),
    ).id
    on_trajectory(app, ctx(1), trajectory, None, Accept, coordinating_organisation=None)
    on_trajectory(
        app, ctx(5), trajectory, None, HoldConsultation, kind=ConsultationKind.START,
        participants=PARTICIPANTS, client_involvement=ClientInvolvement.PRESENT,
        decisions=("afspraken",), next_consultation_on=on(35), no_next_reason=None,
    )  # fmt: skip
    return client, trajectory


def share(app: CareRecord, batches: FindingBatches, trajectory: UUID, **fields: Any) -> int:
    body: dict[str, Any] = {
        "network_id": network_id(NetworkLevel.MESO, REGION),
        "title": "Waiting for a residential place",
        "text": FINDING,
        "names_no_one": True,
    } | fields
    return app.share_finding(
        ctx(30), trajectory, None, said(ShareFinding, ctx(30), **body), batches
    ).version


def network(app: CareRecord) -> LearningNetwork:
    app.forget_cached([network_id(NetworkLevel.MESO, REGION)])
    return app.learning_network(network_id(NetworkLevel.MESO, REGION))


def release(app: CareRecord, batches: FindingBatches, now: datetime) -> list[Any]:
    return [b for b in release_due(batches, deliver_to(app), now) if b.region == REGION]


def rows(batches: FindingBatches, table: str) -> list[tuple[Any, ...]]:
    with batches._db.transaction(write=False) as tx:
        return tx.fetchall(f"SELECT * FROM {table} WHERE region = ?", (REGION,))


def pending(batches: FindingBatches) -> list[Any]:
    return [b for b in batches.pending() if b.region == REGION]


def test_the_trajectory_records_that_it_shared_and_the_proposal_waits_in_its_batch(
    record: tuple[CareRecord, FindingBatches],
) -> None:
    app, batches = record
    _, trajectory = running(app)
    share(app, batches, trajectory)
    events = list(app.repository.event_store.get(trajectory))
    assert isinstance(events[-1], Trajectory.FindingShared)
    assert network(app).themes == {}
    (waiting,) = pending(batches)
    assert (waiting.region, waiting.trajectories, len(waiting.proposals)) == (REGION, 1, 1)
    (row,) = rows(batches, PROPOSALS)
    assert str(trajectory) not in repr(row)
    assert trajectory.hex not in repr(row)


@pytest.mark.parametrize(
    "text",
    [
        "emile waits for a place",
        "the DE SMET family waits",
        "his mother francoise said no",
        "Person-7F3A was not invited",
        "call 0470 12 34 56",
        "mail juf@school.be",
        "since 12 maart 2024",
        "paid into BE71 0961 2345 6769",
        "rijksregisternummer 85.07.30-033.28",
        "BSN 123456782",
    ],
)
def test_a_text_that_could_identify_the_family_is_refused_and_nothing_is_recorded(
    record: tuple[CareRecord, FindingBatches], text: str
) -> None:
    app, batches = record
    _, trajectory = running(app)
    version = app.trajectory(trajectory).version
    with pytest.raises(IdentifyingText):
        share(app, batches, trajectory, text=text)
    assert app.reload_trajectory(trajectory).version == version
    assert pending(batches) == []


def test_the_coordinator_confirms_the_text_names_no_one(
    record: tuple[CareRecord, FindingBatches],
) -> None:
    app, batches = record
    _, trajectory = running(app)
    with pytest.raises(ConfirmationMissing):
        share(app, batches, trajectory, names_no_one=False)


def test_a_finding_goes_to_a_regions_network_never_the_forum(
    record: tuple[CareRecord, FindingBatches],
) -> None:
    app, batches = record
    _, trajectory = running(app)
    with pytest.raises(LearningNetworkNotFound):
        share(app, batches, trajectory, network_id=network_id(NetworkLevel.MACRO, None))


def test_a_batch_enters_the_network_with_proposals_of_three_trajectories(
    record: tuple[CareRecord, FindingBatches],
) -> None:
    app, batches = record
    first = running(app)[1]
    share(app, batches, first)
    share(app, batches, first, title="A second finding of the same trajectory")
    share(app, batches, running(app, "Lotte Peeters")[1])
    assert [b.trajectories for b in pending(batches)] == [2]
    assert release(app, batches, NOW + timedelta(days=1))[0].released is False
    assert network(app).themes == {}

    share(app, batches, running(app, "Noor Janssens")[1])
    (done,) = release(app, batches, NOW + timedelta(days=1))
    assert (done.released, done.themes) == (True, 4)
    themes = list(network(app).themes.values())
    assert len(themes) == 4
    proposed = [
        e for e in app.repository.event_store.get(network(app).id)
        if isinstance(e, LearningNetwork.ThemeProposed)
    ]  # fmt: skip
    assert {(e.source_kind, e.proposer_kind) for e in proposed} == {
        (ThemeSource.CASE_FINDING, ProposerKind.REGION_COORDINATOR)
    }
    # A coarse time: the day of the release, at midnight.
    assert {e.occurred_at for e in proposed} == {
        datetime.combine((NOW + timedelta(days=1)).date(), datetime.min.time(), UTC)
    }
    # The batch, its proposals and its secret are gone.
    assert pending(batches) == []
    assert rows(batches, PROPOSALS) == rows(batches, BATCHES) == []


def test_a_lone_proposal_enters_the_network_after_a_month(
    record: tuple[CareRecord, FindingBatches],
) -> None:
    app, batches = record
    share(app, batches, running(app)[1])
    assert release(app, batches, NOW + timedelta(days=29))[0].released is False
    assert release(app, batches, NOW + timedelta(days=31))[0].released is True
    assert len(network(app).themes) == 1


def test_a_release_run_again_proposes_each_theme_once(
    record: tuple[CareRecord, FindingBatches],
) -> None:
    app, batches = record
    share(app, batches, running(app)[1])
    (waiting,) = pending(batches)
    deliver = deliver_to(app)
    later = NOW + timedelta(days=40)
    assert deliver(REGION, waiting.proposals, later) == 1
    assert deliver(REGION, waiting.proposals, later) == 0  # interrupted before it forgot them
    assert len(network(app).themes) == 1


def test_a_finding_waiting_since_before_record_ids_were_checked_stays_out_of_the_network(
    record: tuple[CareRecord, FindingBatches],
) -> None:
    """A finding shared before a record's identifier was refused may wait in a batch holding one:
    it is left out when the batch enters, and the batch's other findings are not held up."""
    app, batches = record
    share(app, batches, running(app)[1])
    (waiting,) = pending(batches)
    (kept,) = waiting.proposals
    old = msgspec.structs.replace(
        kept, proposal_id="p-old", text=f"{kept.text} (trajectory {uuid4()})"
    )
    entered = deliver_to(app)(REGION, (old, kept), NOW + timedelta(days=40))
    assert entered == 1
    assert list(network(app).themes) == [kept.theme_id]


def test_nothing_the_network_records_leads_back_to_the_trajectory_or_its_client(
    record: tuple[CareRecord, FindingBatches],
) -> None:
    app, batches = record
    cases = [running(app, name) for name in ("Émile De Smet", "Lotte Peeters", "Noor Janssens")]
    for _, trajectory in cases:
        share(app, batches, trajectory)
    release(app, batches, NOW + timedelta(days=1))

    network_events = list(app.repository.event_store.get(network(app).id))
    stored = repr([vars(e) for e in network_events])
    case_ids: set[str] = set()
    for client, trajectory in cases:
        for event in [
            *app.repository.event_store.get(trajectory),
            *app.repository.event_store.get(client),
        ]:
            case_ids |= {event.correlation_id, event.causation_id or ""} - {""}
        for identifier in (client, trajectory):
            assert str(identifier) not in stored
            assert identifier.hex not in stored
    proposed = [e for e in network_events if isinstance(e, LearningNetwork.ThemeProposed)]
    assert len(proposed) == 3
    for event in proposed:
        assert event.correlation_id not in case_ids
        assert event.causation_id is None or event.causation_id not in case_ids
        assert event.actor.organisation != "org-coordinating"
    for name in ("Émile", "Smet", "Lotte", "Peeters", "Noor", "Janssens", "Maes"):
        assert name not in stored
    # The raw rows of the event store too: neither id appears in a network event's record.
    notifications = app.recorder.select_notifications(None, 10_000)
    raw = b"".join(n.state for n in notifications if n.originator_id == network(app).id)
    for client, trajectory in cases:
        assert trajectory.bytes not in raw
        assert str(trajectory).encode() not in raw
        assert client.bytes not in raw
        assert str(client).encode() not in raw


def test_an_erasure_of_the_client_does_not_reach_a_released_finding(
    record: tuple[CareRecord, FindingBatches],
) -> None:
    app, batches = record
    client, trajectory = running(app)
    share(app, batches, trajectory)
    release(app, batches, NOW + timedelta(days=31))
    app.erase_client(ctx(40), client, None, said(EraseClient, ctx(40), legal_basis="gdpr_request"))
    (theme,) = network(app).themes.values()
    assert theme.title == "Waiting for a residential place"
    proposed = [
        e
        for e in app.repository.event_store.get(network(app).id)
        if isinstance(e, LearningNetwork.ThemeProposed)
    ]
    assert [e.description for e in proposed] == [FINDING]
