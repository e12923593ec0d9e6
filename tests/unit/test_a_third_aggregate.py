"""Issue #11: the record is ready for an aggregate beside trajectories and clients.

A kind of aggregate the application and the access policy have never heard of: it says which
refusal names a missing one and whether it holds personal data, and the care record loads,
checks and saves it without a special case; the access policy refuses to let anyone act on it
until it is taught to.
"""

from collections.abc import Iterator
from typing import Any, ClassVar
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate

from api.access import AccessPolicy, Forbidden
from api.auth import Principal
from application.care_record import CareRecord
from application.commands import Action
from domain.errors import NotFound
from domain.record import Record
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record
from tests.unit.builders import ctx


class NotebookNotFound(NotFound):
    rule = "notebook-not-found"


class Notebook(Record):
    """A made-up third aggregate: no client, no personal data."""

    not_found: ClassVar[type[NotFound]] = NotebookNotFound

    class Written(Record.Event, Aggregate.Created):
        title: str

        def apply(self, aggregate: Any) -> None:
            """Creation goes through ``__init__``."""

    @classmethod
    def write(cls, title: str) -> "Notebook":
        return cls._create(cls.Written, **ctx(1).event_fields(), title=title)

    def __init__(self, title: str, **_: Any) -> None:
        self.title = title


@pytest.fixture
def app(any_settings: Settings) -> Iterator[CareRecord]:
    care_record = build_care_record(any_settings)
    yield care_record
    care_record.close()


def test_an_aggregate_without_personal_data_is_recorded_without_a_key(app: CareRecord) -> None:
    notebook = Notebook.write("learning network, meeting 1")

    app._save_all(notebook)

    loaded = app._load(Notebook, notebook.id)
    assert loaded.title == "learning network, meeting 1"
    assert app.keys.key_for(notebook.id) is None
    app._check_writable(loaded)  # no key, and none needed: it takes new facts


def test_a_missing_aggregate_is_refused_with_its_own_not_found(app: CareRecord) -> None:
    with pytest.raises(NotebookNotFound):
        app._load(Notebook, uuid4())


def test_the_access_policy_refuses_a_kind_of_record_it_does_not_know(app: CareRecord) -> None:
    policy = AccessPolicy(app)
    principal = Principal(
        user_id="user-an", organisation="org-a", roles=("coordinator",), region="west-flanders"
    )
    guard = policy.command_guard(principal, Action.SET_GOAL)
    notebook: Any = Notebook.write("not the policy's business")

    with pytest.raises(Forbidden, match="Notebook"):
        guard(notebook)
