"""Which of a client's events an audit export of one trajectory ships only by their chain
entry (``application.audit_export.about_another_trajectory``)."""

from uuid import uuid4

import msgspec
from eventsourcing.utils import get_topic

from application.audit_export import about_another_trajectory
from domain.client import Client


def _event(kind: type, **fields: object) -> tuple[str, bytes]:
    return get_topic(kind), msgspec.json.encode(fields)


def test_a_consent_to_continue_another_trajectory_and_each_of_its_ends_are_withheld() -> None:
    here, elsewhere = uuid4(), uuid4()
    events = [
        _event(Client.Registered, region="west-flanders"),
        _event(Client.ConsentGranted, consent_id="c-elsewhere", trajectory_id=str(elsewhere)),
        _event(Client.ConsentGranted, consent_id="c-here", trajectory_id=str(here)),
        _event(Client.ConsentGranted, consent_id="c-general", trajectory_id=None),
        _event(Client.ConsentRevoked, consent_id="c-elsewhere"),
        _event(Client.ConsentEndedByErasure, consent_id="c-elsewhere"),
        _event(Client.ConsentEndedByErasure, consent_id="c-here"),
        _event(Client.ConsentEndedByErasure, consent_id="c-general"),
    ]

    assert about_another_trajectory(events, here) == {1, 4, 5}
    assert about_another_trajectory(events, elsewhere) == {2, 6}


def test_a_consent_whose_state_cannot_be_read_is_withheld_and_a_strange_topic_is_no_crash() -> None:
    """Review: a state encrypted or compressed whole cannot say which trajectory its consent is
    about, so it is withheld (failing closed); a topic changed past the application is left to
    the chain check, which refuses the export, rather than raising here."""
    here = uuid4()
    events = [
        (get_topic(Client.ConsentGranted), b"sealed:\x00\x01"),
        ("domain.client:Nowhere", b"{}"),
        ("builtins:len", b"{}"),
        _event(Client.ConsentGranted, consent_id="c-here", trajectory_id=str(here)),
    ]

    assert about_another_trajectory(events, here) == {0}
