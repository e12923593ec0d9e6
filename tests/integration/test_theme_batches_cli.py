"""``rodedraad learning-networks release-batches`` beside the record (issue #14 point 2): a
region's due batch of shared findings enters its network, once; a batch not yet due waits."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from application.care_record import CareRecord
from application.commands import EstablishLearningNetwork
from domain.learning_network import NetworkLevel, ThemeSource, network_id
from rodedraad.settings import Settings
from rodedraad.wiring import build_finding_batches
from tests.integration.conftest import Rodedraad
from tests.support import context, said


def _establish(record: CareRecord, region: str) -> None:
    ctx = context(datetime.now(UTC) - timedelta(days=60))
    record.establish_learning_network(
        ctx,
        said(
            EstablishLearningNetwork,
            ctx,
            level=NetworkLevel.MESO,
            region=region,
            coordinating_organisation="org-chair",
        ),
    )


def _hold(settings: Settings, region: str, trajectories: int) -> None:
    batches = build_finding_batches(settings)
    try:
        for _ in range(trajectories):
            batches.hold(
                region=region,
                title="Waiting for a place",
                text="Residential places are scarce in the region.",
                received_on=datetime.now(UTC).date(),
                trajectory=uuid4(),
            )
    finally:
        batches.close()


def test_a_due_batch_enters_its_network_from_the_command_line_once(
    own_settings: Settings, record: CareRecord, rodedraad: Rodedraad
) -> None:
    _establish(record, "west-flanders")
    _establish(record, "limburg")
    _hold(own_settings, "west-flanders", 3)
    _hold(own_settings, "limburg", 1)

    code, out, err = rodedraad(own_settings, "learning-networks", "release-batches")
    assert code == 0, err
    assert "west-flanders: 3 theme(s) entered the learning network" in out
    assert "limburg: waiting (not due)" in out
    record.forget_cached([network_id(NetworkLevel.MESO, "west-flanders")])
    themes = record.learning_network(network_id(NetworkLevel.MESO, "west-flanders")).themes
    assert len(themes) == 3

    code, again, err = rodedraad(own_settings, "learning-networks", "release-batches")
    assert code == 0, err
    assert "west-flanders" not in again
    record.forget_cached([network_id(NetworkLevel.MESO, "west-flanders")])
    network = record.learning_network(network_id(NetworkLevel.MESO, "west-flanders"))
    assert len(network.themes) == 3
    events = record.repository.event_store.get(network.id)
    assert {getattr(e, "source_kind", None) for e in events} >= {ThemeSource.CASE_FINDING}
