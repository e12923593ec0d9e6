"""What the person decides (issue #19 point 5), as the domain's rules: a plan signed together
(NL, 12-15), the input ahead of a consultation, and GDPR requests with their month."""

from datetime import UTC, date, datetime

import pytest

from application.codec import MsgspecTranscoder, SealingMapper
from application.keys import MemoryKeyStore
from domain.client import Client
from domain.common import ERASED, Actor, ConsultationKind, Signatory
from domain.errors import InvalidValue, PlanNotInForce, RuleConflict
from domain.person_requests import (
    PersonRequest,
    RequestDeadline,
    RequestKind,
    RequestOutcome,
    answer_due_on,
    deadline_due,
)
from domain.trajectory import Trajectory
from tests.support import context
from tests.unit.builders import (
    active,
    at,
    ctx,
    last_event,
    new_events,
    registered,
    set_goal,
)

# --- a plan signed together ---------------------------------------------------------------------


def with_goal() -> Trajectory:
    trajectory = active()
    set_goal(trajectory, day=6)
    return trajectory


def test_the_first_of_two_signatures_does_not_put_the_plan_in_force() -> None:
    trajectory = with_goal()
    in_force = trajectory.sign_plan_together(
        ctx(8), signatory=Signatory.CLIENT, representative_ref=None
    )
    assert in_force is False
    assert trajectory.plan is None
    assert trajectory.partial_signature is not None
    assert last_event(trajectory, Trajectory.PlanSignedInPart).signatory == Signatory.CLIENT


def test_the_other_sides_signature_puts_the_plan_in_force_naming_the_parent() -> None:
    trajectory = with_goal()
    trajectory.sign_plan_together(ctx(8), signatory=Signatory.CLIENT, representative_ref=None)
    in_force = trajectory.sign_plan_together(
        ctx(9), signatory=Signatory.REPRESENTATIVE, representative_ref="rep-mother"
    )
    assert in_force is True
    signed = last_event(trajectory, Trajectory.PlanSigned)
    assert (signed.signatory, signed.representative_ref) == (
        Signatory.REPRESENTATIVE,
        "rep-mother",
    )
    assert trajectory.plan is not None
    assert trajectory.partial_signature is None


def test_the_same_side_signing_twice_is_refused() -> None:
    trajectory = with_goal()
    trajectory.sign_plan_together(
        ctx(8), signatory=Signatory.REPRESENTATIVE, representative_ref="rep-mother"
    )
    with pytest.raises(RuleConflict, match="minor's signature"):
        trajectory.sign_plan_together(
            ctx(9), signatory=Signatory.REPRESENTATIVE, representative_ref="rep-father"
        )


def test_a_plan_without_an_open_goal_is_not_signed_in_part_either() -> None:
    with pytest.raises(PlanNotInForce):
        active().sign_plan_together(ctx(8), signatory=Signatory.CLIENT, representative_ref=None)


# --- input ahead of a consultation ----------------------------------------------------------------


def test_the_persons_input_is_kept_in_their_words_and_is_not_activity() -> None:
    trajectory = with_goal()
    before = trajectory.last_recorded_at
    trajectory.give_consultation_input(
        ctx(20),
        statement="  Ik wil op woensdag vrij ",
        for_kind=ConsultationKind.THREE_MONTH,
        given_by=Signatory.CLIENT,
        representative_ref=None,
    )
    (said,) = trajectory.client_inputs
    assert (said.statement, said.for_kind, said.given_at) == (
        "Ik wil op woensdag vrij",
        ConsultationKind.THREE_MONTH,
        at(20),
    )
    assert trajectory.last_recorded_at == before


def test_an_empty_statement_is_refused() -> None:
    with pytest.raises(InvalidValue):
        with_goal().give_consultation_input(
            ctx(20),
            statement="  ",
            for_kind=None,
            given_by=Signatory.CLIENT,
            representative_ref=None,
        )


# --- GDPR requests ------------------------------------------------------------------------------


def test_a_request_is_due_a_month_after_it_is_filed() -> None:
    client = registered()
    client.file_request(
        ctx(3), request_id="req-1", kind=RequestKind.ACCESS_COPY, field_name=None, details=""
    )
    assert client.requests["req-1"].answer_due_on == answer_due_on(at(3).date())
    assert answer_due_on(date(2026, 1, 31)) == date(2026, 2, 28)


def test_a_request_the_person_files_is_due_a_month_after_it_is_recorded() -> None:
    """Found by an outside probe: a parent's request dated 2001 was due in 2001, "overdue" at
    once, a breach the organisation never made. The person's own request is received when it
    is recorded; one an organisation records (a letter) when it says."""
    client = registered()
    parent = Actor(user_id="identity-link:l1", organisation="", role="representative")
    recorded_on = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    client.file_request(
        context(occurred_at=datetime(2001, 1, 1, 9, tzinfo=UTC), actor=parent, now=recorded_on),
        request_id="req-1",
        kind=RequestKind.ACCESS_COPY,
        field_name=None,
        details="",
    )
    client.file_request(
        context(occurred_at=datetime(2026, 11, 2, 9, tzinfo=UTC), now=recorded_on),
        request_id="req-2",
        kind=RequestKind.ACCESS_COPY,
        field_name=None,
        details="by letter",
    )
    assert client.requests["req-1"].answer_due_on == date(2027, 1, 7)
    assert client.requests["req-2"].answer_due_on == date(2026, 12, 2)


def test_a_rectification_names_its_field_and_only_it_does() -> None:
    client = registered()
    with pytest.raises(InvalidValue, match="field_name"):
        client.file_request(
            ctx(3), request_id="r", kind=RequestKind.RECTIFICATION, field_name=" ", details="x"
        )
    with pytest.raises(InvalidValue, match="field_name"):
        client.file_request(
            ctx(3), request_id="r", kind=RequestKind.ERASURE, field_name="name", details="x"
        )


def test_a_request_is_decided_once_with_its_legal_ground() -> None:
    client = registered()
    client.file_request(
        ctx(3), request_id="req-1", kind=RequestKind.ERASURE, field_name=None, details="wis"
    )
    client.decide_request(
        ctx(10),
        request_id="req-1",
        outcome=RequestOutcome.REFUSED,
        legal_ground="004: tien jaar bewaard",
    )
    request = client.requests["req-1"]
    assert (request.outcome, request.legal_ground) == (
        RequestOutcome.REFUSED,
        "004: tien jaar bewaard",
    )
    with pytest.raises(RuleConflict, match="already decided"):
        client.decide_request(
            ctx(11), request_id="req-1", outcome=RequestOutcome.GRANTED, legal_ground="x"
        )


def test_an_erasure_leaves_the_requests_words_unreadable() -> None:
    client = registered()
    client.file_request(
        ctx(3), request_id="req-1", kind=RequestKind.ERASURE, field_name=None, details="wis"
    )
    client.file_request(
        ctx(3),
        request_id="req-2",
        kind=RequestKind.RECTIFICATION,
        field_name="my phone 0470 12 34 56",
        details="it changed",
    )
    client.erase(ctx(4), legal_basis="gdpr_request", erased_subjects=(client.id,))
    assert client.requests["req-1"].details == ERASED
    assert client.requests["req-2"].field_name == ERASED
    assert client.requests["req-1"].field_name is None


def test_a_rectifications_field_is_sealed_with_the_persons_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found by an outside probe: the field to correct is the person's words ("Noor Vermeulen
    0470123456" was stored in the clear and read back after the erasure). Now it is sealed; a
    request stored before, with it in the clear, still reads as it was."""
    client = registered()
    client.file_request(
        ctx(3),
        request_id="req-2",
        kind=RequestKind.RECTIFICATION,
        field_name="Noor Vermeulen 0470123456",
        details="it changed",
    )
    event = last_event(client, Client.RequestFiled)
    keys = MemoryKeyStore()
    keys.create(client.id, client.id)
    codec = SealingMapper(MsgspecTranscoder(), keys=keys)

    stored = codec.to_stored_event(event)
    assert b"Vermeulen" not in stored.state
    assert codec.to_domain_event(stored).field_name == "Noor Vermeulen 0470123456"

    with monkeypatch.context() as before:
        before.setattr(Client.RequestFiled, "personal_fields", ("details",))
        stored_before = codec.to_stored_event(event)
    assert b"Vermeulen" in stored_before.state
    assert codec.to_domain_event(stored_before).field_name == "Noor Vermeulen 0470123456"

    keys.erase_client(client.id)
    assert codec.to_domain_event(stored).field_name == ERASED


def _three_requests() -> Client:
    """An erasure and an access copy open, a rectification refused."""
    client = registered()
    for request_id, kind, field_name in (
        ("req-erase", RequestKind.ERASURE, None),
        ("req-copy", RequestKind.ACCESS_COPY, None),
        ("req-fix", RequestKind.RECTIFICATION, "name"),
    ):
        client.file_request(
            ctx(3), request_id=request_id, kind=kind, field_name=field_name, details="mijn woorden"
        )
    client.decide_request(
        ctx(5), request_id="req-fix", outcome=RequestOutcome.REFUSED, legal_ground="juist"
    )
    return client


def test_the_erasure_settles_the_open_requests_as_facts_without_personal_data() -> None:
    """Outside probe: nothing can decide a request once the client is erased, so the erasure
    settles them: the erasure request granted by it, the access copy closed undecided."""
    client = _three_requests()
    client.erase(ctx(20), legal_basis="gdpr_request", erased_subjects=(client.id,))

    settled = [e for e in new_events(client) if isinstance(e, Client.RequestSettledByErasure)]
    assert [(e.request_id, e.outcome) for e in settled] == [
        ("req-erase", RequestOutcome.GRANTED),
        ("req-copy", None),
    ]
    assert not Client.RequestSettledByErasure.personal_fields
    assert isinstance(new_events(client)[-1], Client.Erased)  # in the erasure's own commit
    requests = client.requests
    assert not [i for i, r in requests.items() if r.open]
    assert [requests[i].status for i in ("req-erase", "req-copy", "req-fix")] == [
        "granted",
        "closed_by_erasure",
        "refused",
    ]
    assert requests["req-erase"].decided_at == at(20)
    assert requests["req-fix"].decided_at == at(5)
    for request in requests.values():  # no reminder, no passed month, ever after
        assert deadline_due(request, date(2030, 1, 1)) is None


def test_an_erasure_recorded_before_the_rule_settles_the_open_requests_as_it_is_replayed() -> None:
    """Stores hold erasures recorded without the settling facts: replayed, they settle the same
    requests the same way, so the queue and the scheduler no longer find them open."""
    client = _three_requests()
    client.trigger_event(
        Client.Erased,
        **ctx(20).event_fields(),
        legal_basis="gdpr_request",
        erased_subjects=(client.id,),
    )

    assert [(i, r.status) for i, r in client.requests.items()] == [
        ("req-erase", "granted"),
        ("req-copy", "closed_by_erasure"),
        ("req-fix", "refused"),
    ]
    assert not [r for r in client.requests.values() if r.open]


def request_due(on: date) -> PersonRequest:
    return PersonRequest(
        kind=RequestKind.ACCESS_COPY,
        field_name=None,
        details="",
        filed_at=at(0),
        answer_due_on=on,
    )


@pytest.mark.parametrize(
    ("days_before_due", "expected"),
    [(8, None), (7, RequestDeadline.REMINDER), (0, RequestDeadline.REMINDER)],
)
def test_the_reminder_is_due_in_the_last_week(
    days_before_due: int, expected: RequestDeadline | None
) -> None:
    due = date(2026, 3, 20)
    today = date.fromordinal(due.toordinal() - days_before_due)
    assert deadline_due(request_due(due), today) == expected


def test_the_deadline_passes_the_day_after_it_is_due_and_is_recorded_once() -> None:
    request = request_due(date(2026, 3, 20))
    assert deadline_due(request, date(2026, 3, 21)) == RequestDeadline.PASSED
    request.deadline_passed = True
    request.reminded = True
    assert deadline_due(request, date(2026, 3, 21)) is None


def test_a_decided_request_has_no_deadline_due() -> None:
    request = request_due(date(2026, 3, 20))
    request.outcome = RequestOutcome.GRANTED
    assert deadline_due(request, date(2026, 3, 19)) is None
    assert deadline_due(request, date(2026, 4, 30)) is None
