"""Issue #16 point 4 over HTTP, on both backends: an auditor's export of one trajectory,
signed and encrypted to the auditor's key, verifies offline — and no longer does after any
change to it; only contact details asked for leave; every export is in the read log."""

import base64
import copy
import json
import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from litestar.testing import TestClient

from application.audit_export import open_export, verify_export
from application.sealed_files import SealedFileError, encrypt_to
from application.signing import PublicKey, SigningKey, encode_signature
from rodedraad import cli
from rodedraad.settings import Settings
from rodedraad.wiring import Container, signing_key_file
from tests.e2e.conftest import TokenFactory, token_factory
from tests.e2e.steps import (
    active_trajectory,
    assert_problem,
    at,
    bearer,
    refer,
    register_client,
    start_consultation,
)

EXPORT = "/v1/audit/trajectories/{}/export"
Document = dict[str, Any]


class Auditor:
    """An auditor of a region with an X25519 key pair of their own."""

    def __init__(self, token: TokenFactory, region: str = "west-flanders") -> None:
        self.headers = bearer(
            token(user="user-audrey", org="org-inspection", roles=("auditor",), region=region)
        )
        self.identity = X25519PrivateKey.generate()
        pem = self.identity.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_pem = pem
        #: The base64 line of the PEM file, as the route takes it in the query.
        self.recipient = pem.decode().splitlines()[1]

    def export(
        self,
        http: TestClient,  # type: ignore[type-arg]
        trajectory_id: str,
        **params: Any,
    ) -> Any:
        return http.get(
            EXPORT.format(trajectory_id),
            params={"recipient": self.recipient, **params},
            headers=self.headers,
        )

    def private_pem(self) -> bytes:
        return self.identity.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


@pytest.fixture(scope="module")
def deployment_key(module_app: tuple[Settings, Container, TestClient]) -> SigningKey:  # type: ignore[type-arg]
    """The deployment's signing key (PostgreSQL makes none on first need: made here, once)."""
    return signing_key_file(module_app[0]).create()


@pytest.fixture(scope="module")
def made(
    module_app: tuple[Settings, Container, TestClient],  # type: ignore[type-arg]
    deployment_key: SigningKey,
) -> tuple[str, str, bytes]:
    """A client with name and contact, a trajectory with three events, and an export of it
    with one as-of answer: (client id, trajectory id, the signed export's JSON)."""
    settings, _, http = module_app
    token = token_factory(settings)
    auth = bearer(token())
    client = register_client(http, auth, name="Rosa Peeters", contact="rosa@example.org")
    trajectory = refer(http, auth, client.id)
    trajectory.post("/acceptance", {"occurred_at": at(1)})
    trajectory.post("/consultations", start_consultation())
    auditor = Auditor(token)
    response = auditor.export(http, trajectory.id, as_of=[f"occurred:{at(10)}"])
    assert response.status_code == 200, response.text
    return client.id, trajectory.id, open_export(response.content, auditor.identity)


def _document(signed: bytes) -> tuple[Document, Document]:
    outer = json.loads(signed)
    return outer, outer["document"]


def _changed(signed: bytes, change: Callable[[Document], None]) -> bytes:
    """The export with its document changed as ``change`` says, signature left as it was."""
    outer, document = _document(signed)
    document = copy.deepcopy(document)
    change(document)
    return json.dumps({**outer, "document": document}).encode()


def _flip(text: str, base64_encoded: bool = True) -> str:
    """One byte of ``text`` (base64 or hex) changed."""
    if base64_encoded:
        raw = bytearray(base64.b64decode(text))
        raw[len(raw) // 2] ^= 0x01
        return base64.b64encode(bytes(raw)).decode()
    digit = "0" if text[-1] != "0" else "1"
    return text[:-1] + digit


def _a_proof_changed(document: Document) -> None:
    path = document["events"][0]["proof"]["path"]
    path[0] = _flip(path[0], base64_encoded=False)


def _without_the_last_trajectory_event(document: Document) -> None:
    """Removed with its fields, leaving no gap in the versions: only the signature shows it."""
    trajectory_id = document["agreements"]["trajectory_id"]
    last = max(
        (e for e in document["events"] if e["originator_id"] == trajectory_id),
        key=lambda e: e["version"],
    )
    document["events"].remove(last)
    document["fields"] = [
        f
        for f in document["fields"]
        if (f["originator_id"], f["version"]) != (last["originator_id"], last["version"])
    ]


def test_an_export_holds_the_events_their_proofs_the_views_and_the_fields(
    made: tuple[str, str, bytes], deployment_key: SigningKey
) -> None:
    client_id, trajectory_id, signed = made
    _, document = _document(signed)

    check = verify_export(signed, deployment_key.public)

    assert check.failure is None, check.failure
    events = document["events"]
    versions = [e["version"] for e in events if e["originator_id"] == trajectory_id]
    # Its three events, and any deadline fact the running scheduler recorded since (its start
    # consultation's deadline lies in the story's past): every version, none left out.
    assert versions == list(range(1, len(versions) + 1))
    assert len(versions) >= 3
    assert [e["version"] for e in events if e["originator_id"] == client_id] == [1]
    assert all(e["proof"] is not None for e in events), "the export seals on demand"
    assert document["seals"]
    assert all(s["line"].startswith("rodedraad-seal/2 ") for s in document["seals"]), (
        "the seal taken on demand signs the read log's head too, and verifies offline"
    )
    assert document["agreements"]["trajectory_id"] == trajectory_id
    assert [a["asked"] for a in document["as_of"]] == [f"occurred:{at(10)}"]
    assert document["as_of"][0]["answer"]["state"]["id"] == trajectory_id
    statuses = {(f["path"], f["status"]) for f in document["fields"]}
    assert ("personal", "withheld") in statuses
    assert ("question", "disclosed") in statuses
    assert "Rosa" not in signed.decode()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            lambda d: d["events"][1].update(state=_flip(d["events"][1]["state"])),
            "its stored bytes do not hash to its chain entry",
        ),
        (_a_proof_changed, "its inclusion proof does not lead to seal"),
        (
            lambda d: d["seals"][0].update(signature=_flip(d["seals"][0]["signature"])),
            "seal 1: its signature does not match",
        ),
        (
            lambda d: next(f for f in d["fields"] if f["status"] == "disclosed").update(
                plaintext=base64.b64encode(b'"Something else"').decode()
            ),
            "its plaintext and salt do not match the commitment",
        ),
        (lambda d: d["events"].pop(1), "version 2 is missing"),
        (_without_the_last_trajectory_event, "the export's own signature does not match"),
        (lambda d: d.update(include_contact=True), "the export's own signature does not match"),
    ],
    ids=[
        "a byte of an event",
        "a byte of a proof",
        "a byte of a seal's signature",
        "a plaintext",
        "an event removed",
        "the last event removed",
        "the document otherwise",
    ],
)
def test_an_export_fails_after_any_change_and_names_what(
    made: tuple[str, str, bytes],
    deployment_key: SigningKey,
    change: Callable[[Document], None],
    named: str,
) -> None:
    check = verify_export(_changed(made[2], change), deployment_key.public)

    assert check.failure is not None
    assert named in check.failure


def _as_format(signed: bytes, export_format: str, key: SigningKey | None) -> bytes:
    """The export labelled ``export_format``; signed anew over that label with ``key``, or
    with its signature left as it was (``None``)."""
    outer = json.loads(signed)
    document = json.dumps(outer["document"], separators=(",", ":")).encode()
    signature = outer["signature"]
    if key is not None:
        signature = encode_signature(key.sign(export_format.encode() + b"\n" + document))
    return json.dumps(
        {**outer, "format": export_format, "signature": signature, "document": outer["document"]},
        separators=(",", ":"),
    ).encode()


def test_an_export_of_the_first_format_still_verifies_and_an_unknown_one_is_named(
    made: tuple[str, str, bytes], deployment_key: SigningKey
) -> None:
    """Format 2 may ship an event without its topic and state; a file made as format 1 (before)
    verifies still, a label changed without the signature does not, an unknown one is named."""
    signed = made[2]
    assert json.loads(signed)["format"] == "rodedraad-audit-export/2"
    first = _as_format(signed, "rodedraad-audit-export/1", deployment_key)
    relabelled = _as_format(signed, "rodedraad-audit-export/1", None)
    later = _as_format(signed, "rodedraad-audit-export/3", deployment_key)

    assert verify_export(first, deployment_key.public).failure is None
    relabelled_failure = verify_export(relabelled, deployment_key.public).failure
    assert relabelled_failure is not None
    assert "the export's own signature does not match" in relabelled_failure
    later_failure = verify_export(later, deployment_key.public).failure
    assert later_failure is not None
    assert "not a rodedraad-audit-export/1 or rodedraad-audit-export/2" in later_failure


def test_an_export_checked_against_another_key_fails(made: tuple[str, str, bytes]) -> None:
    check = verify_export(made[2], SigningKey.generate().public)

    assert check.failure is not None
    assert "seal 1: its signature does not match key" in check.failure


def test_the_command_line_verifies_an_export_offline_and_names_a_change(
    made: tuple[str, str, bytes],
    deployment_key: SigningKey,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    auditor = Auditor(lambda **_: "")
    public = tmp_path / "deployment.pub"
    public.write_text(deployment_key.public_key_pem())
    identity = tmp_path / "auditor.pem"
    identity.write_bytes(auditor.private_pem())
    recipient = auditor.identity.public_key()
    good, bad = tmp_path / "good.export", tmp_path / "bad.export"
    good.write_bytes(encrypt_to(recipient, made[2]))
    changed = _changed(
        made[2], lambda d: d["events"][0].update(state=_flip(d["events"][0]["state"]))
    )
    bad.write_bytes(encrypt_to(recipient, changed))
    args = ["--public-key", str(public), "--identity", str(identity)]

    assert cli.main(["audit", "verify-export", str(good), *args]) == 0
    assert "the export holds" in capsys.readouterr().out
    assert cli.main(["audit", "verify-export", str(bad), *args]) == 1
    assert "FAILS: event" in capsys.readouterr().out


def test_an_export_opens_only_with_the_auditors_own_key(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    made: tuple[str, str, bytes],
) -> None:
    auditor = Auditor(module_token)
    sealed = auditor.export(module_http, made[1]).content

    with pytest.raises(SealedFileError):
        open_export(sealed, X25519PrivateKey.generate())
    assert open_export(sealed, auditor.identity).startswith(b"{")


def test_contact_details_leave_only_when_asked_and_the_read_log_says_which(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    made: tuple[str, str, bytes],
    deployment_key: SigningKey,
) -> None:
    client_id, trajectory_id, _ = made
    auditor = Auditor(module_token)
    response = auditor.export(module_http, trajectory_id, include_contact="true")
    signed = open_export(response.content, auditor.identity)

    assert verify_export(signed, deployment_key.public).failure is None
    _, document = _document(signed)
    contact = [f for f in document["fields"] if f["path"] == "personal"]
    assert [f["status"] for f in contact] == ["disclosed"]
    assert b"rosa@example.org" in base64.b64decode(contact[0]["plaintext"])
    reads = module_http.get(
        "/v1/audit/personal-data-reads",
        params={"client_id": client_id},
        headers=auditor.headers,
    ).json()
    exports = [r for r in reads if r["endpoint"].endswith("/export")]
    purposes = [r["purpose"] for r in exports]  # newest first
    assert purposes[0] == (
        "audit export: trajectory and client events with plaintexts, contact details "
        "included, 0 as-of answer(s)"
    )
    assert (
        "audit export: trajectory and client events with plaintexts, contact details "
        "withheld, 1 as-of answer(s)"
    ) in purposes[1:]
    assert all(r["trajectory_id"] == trajectory_id for r in exports)


def test_an_erased_clients_export_verifies_for_the_chain_with_no_plaintext(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    deployment_key: SigningKey,
) -> None:
    auth = bearer(module_token())
    client, trajectory = active_trajectory(module_http, auth)
    officer = bearer(module_token(user="user-dpo", roles=("data_protection_officer",)))
    erased = module_http.post(
        f"/v1/clients/{client.id}/erasure",
        json={"occurred_at": at(5), "legal_basis": "gdpr_request"},
        headers=officer,
    )
    assert erased.status_code in (200, 201), erased.text
    auditor = Auditor(module_token)

    response = auditor.export(module_http, trajectory.id)

    assert response.status_code == 200, response.text
    signed = open_export(response.content, auditor.identity)
    assert verify_export(signed, deployment_key.public).failure is None
    _, document = _document(signed)
    assert {f["status"] for f in document["fields"]} == {"erased", "withheld"}
    assert all(f["plaintext"] is None and f["salt"] is None for f in document["fields"])


def test_only_an_auditor_of_the_trajectorys_region_gets_an_export(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    made: tuple[str, str, bytes],
) -> None:
    trajectory_id = made[1]
    coordinator = Auditor(module_token)
    coordinator.headers = bearer(module_token())
    elsewhere = Auditor(module_token, region="limburg")

    assert_problem(coordinator.export(module_http, trajectory_id), 403)
    assert_problem(elsewhere.export(module_http, trajectory_id), 404)


def test_another_role_is_refused_before_the_recipient_is_read(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    made: tuple[str, str, bytes],
) -> None:
    """Found by an outside probe: a coordinator asking with a bad recipient was told 422 (what
    the route takes) before 403 (that it is not theirs)."""
    coordinator = Auditor(module_token)
    coordinator.headers = bearer(module_token())
    coordinator.recipient = "not-a-key"

    assert_problem(coordinator.export(module_http, made[1]), 403)


def test_an_export_to_something_that_is_no_x25519_key_is_refused_naming_it(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    made: tuple[str, str, bytes],
) -> None:
    auditor = Auditor(module_token)
    ed25519 = PublicKey(SigningKey.generate().public.key).pem().splitlines()[1]
    auditor.recipient = ed25519

    response = auditor.export(module_http, made[1])

    assert_problem(response, 422)
    assert "X25519" in response.json()["detail"]


def test_an_as_of_question_beyond_the_calendar_in_utc_is_refused_naming_it(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    made: tuple[str, str, bytes],
) -> None:
    """A valid ISO moment whose UTC time falls outside the years 1-9999 (a fuzzer's pick)."""
    auditor = Auditor(module_token)
    for question in ("occurred:9999-12-31T23:59:59-14:00", "recorded:0001-01-01T00:00:00+14:00"):
        response = auditor.export(module_http, made[1], as_of=question)

        assert_problem(response, 422)
        assert "UTC" in response.json()["detail"], response.text


def test_an_as_of_question_in_the_future_is_refused_naming_it(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    made: tuple[str, str, bytes],
) -> None:
    """An export signs its answers: one as of a moment to come would be a signed prediction."""
    response = Auditor(module_token).export(
        module_http, made[1], as_of=["occurred:2028-01-01T00:00:00Z"]
    )

    problem = assert_problem(response, 422)
    assert "as_of question 1: occurred lies in the future" in problem["detail"]


@pytest.mark.parametrize(
    ("question", "told"),
    [
        ("when:<b>Jan</b>", "write occurred:T, recorded:T or occurred:T,recorded:T"),
        ("occurred:2021-05-06T12:00:00", "occurred needs a time zone offset"),
        ("occurred:2021-05-06T12:00:00+02:00,occurred:2021-05-07T12:00:00+02:00", "write"),
    ],
    ids=["no axis", "no offset", "an axis twice"],
)
def test_a_refused_as_of_question_is_named_by_its_place_and_not_echoed(
    question: str,
    told: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    made: tuple[str, str, bytes],
) -> None:
    auditor = Auditor(module_token)

    response = auditor.export(module_http, made[1], as_of=[f"occurred:{at(10)}", question])

    problem = assert_problem(response, 422, field="as_of")
    assert problem["detail"].startswith(f"as_of question 2: {told}"), problem
    assert question not in response.text
    assert "Jan" not in response.text
    assert "2031-05-06" not in response.text


def test_without_a_usable_signing_key_no_export_is_made_and_the_answer_says_how(
    private_app: tuple[Settings, Container, TestClient],  # type: ignore[type-arg]
) -> None:
    settings, _, http = private_app
    token = token_factory(settings)
    _, trajectory = active_trajectory(http, bearer(token()))
    signing_key_file(settings).path.write_text("not a key")

    response = Auditor(token).export(http, trajectory.id)

    problem = assert_problem(response, 503, rule="audit-export-unavailable")
    assert "rodedraad keys public --create" in problem["detail"]


def test_a_record_changed_past_the_application_is_not_exported(
    private_app: tuple[Settings, Container, TestClient],  # type: ignore[type-arg]
) -> None:
    settings, _, http = private_app
    signing_key_file(settings).create()
    token = token_factory(settings)
    _, trajectory = active_trajectory(http, bearer(token()))
    position = _change_a_byte_of_version_2(settings, trajectory.id)

    response = Auditor(token).export(http, trajectory.id)

    problem = assert_problem(response, 503, rule="audit-export-unavailable")
    detail = problem["detail"]
    assert "no export is made" in detail
    # The position changed, or the range of the commit that wrote it (several events).
    commit = re.search(r"in the commit of positions (\d+) to (\d+):", detail)
    if commit is None:
        assert f"does not hold at position {position}:" in detail
    else:
        assert int(commit[1]) <= position <= int(commit[2])


def _change_a_byte_of_version_2(settings: Settings, trajectory_id: str) -> int:
    """Straight in the database, as an insider would: one character of the stored state of the
    trajectory's second event (inside its correlation id, so it still decodes). Its position."""

    def changed(state: bytes) -> bytes:
        at = state.index(b'"correlation_id":"') + len(b'"correlation_id":"')
        changed = bytearray(state)
        changed[at] = ord("0") if changed[at] != ord("0") else ord("1")
        return bytes(changed)

    return _change_version_2(settings, trajectory_id, changed)


def _change_version_2(
    settings: Settings, trajectory_id: str, change: Callable[[bytes], bytes]
) -> int:
    """The trajectory's second event's stored state changed by ``change``, straight in the
    database. Its position."""
    database = settings.database
    if database.is_postgres:
        events, column, mark, key = "rodedraad_events", "notification_id", "%s", trajectory_id
        conn: Any = psycopg.connect(database.url, autocommit=True)
    else:
        events, column, mark, key = "stored_events", "rowid", "?", UUID(trajectory_id).hex
        conn = sqlite3.connect(database.sqlite_path, isolation_level=None)
    with closing(conn):
        position, state = conn.execute(
            f"SELECT {column}, state FROM {events} WHERE originator_id = {mark} "
            f"AND originator_version = 2",
            (key,),
        ).fetchone()
        conn.execute(
            f"UPDATE {events} SET state = {mark} WHERE {column} = {mark}",
            (change(bytes(state)), position),
        )
    return int(position)


def test_an_auditor_reading_an_event_that_no_longer_decodes_is_told_so_not_a_500(
    private_app: tuple[Settings, Container, TestClient],  # type: ignore[type-arg]
) -> None:
    """Found by an outside probe: an event changed past the application so that it no longer
    decodes made every auditor route answer 500; it is the operator's to find (503, the
    problem names ``rodedraad audit verify``)."""
    settings, _, http = private_app
    token = token_factory(settings)
    _, trajectory = active_trajectory(http, bearer(token()))
    _change_version_2(settings, trajectory.id, lambda state: b"\xff" + state)
    auditor = Auditor(token)
    base = f"/v1/audit/trajectories/{trajectory.id}"

    for path, params in (("/as-of", {"occurred": at(10)}), ("/history", {}), ("/agreements", {})):
        response = http.get(base + path, params=params, headers=auditor.headers)
        problem = assert_problem(response, 503, rule="record-unreadable")
        assert "rodedraad audit verify" in problem["detail"], path


def test_a_consent_to_continue_a_trajectory_elsewhere_leaves_only_by_its_chain_entry(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    deployment_key: SigningKey,
) -> None:
    """Found by an outside probe: the export of a trajectory held, in full, the client's
    consent to continue a trajectory of another region (to whom, for which trajectory), which
    the same auditor's agreements and as-of answers leave out. It holds its place in the record
    and its chain entry, proved in a seal, and nothing of what it says; the export verifies."""
    auth = bearer(module_token())
    client = register_client(module_http, auth)
    here = refer(module_http, auth, client.id)
    elsewhere = refer(module_http, auth, client.id, region="east-flanders")

    def consent(trajectory: str, party: str) -> str:
        granted = module_http.post(
            f"/v1/clients/{client.id}/consents",
            json={
                "occurred_at": at(1),
                "to_party": party,
                "scopes": ["plan"],
                "purpose": "continuation",
                "trajectory_id": trajectory,
            },
            headers=auth,
        )
        assert granted.status_code in (200, 201), granted.text
        return str(granted.json()["item_id"])

    consent_elsewhere = consent(elsewhere.id, "org-oostkust")
    revoked = module_http.post(
        f"/v1/clients/{client.id}/consents/{consent_elsewhere}/revocation",
        json={"occurred_at": at(2), "reason": "withdrawn"},
        headers=auth,
    )
    assert revoked.status_code in (200, 201), revoked.text
    consent_here = consent(here.id, "org-de-brug")
    auditor = Auditor(module_token)

    response = auditor.export(module_http, here.id)

    assert response.status_code == 200, response.text
    signed = open_export(response.content, auditor.identity)
    check = verify_export(signed, deployment_key.public)
    assert check.failure is None, check.failure
    assert any("2 of the client's about another trajectory" in line for line in check.lines)
    _, document = _document(signed)
    mine = sorted(
        (e for e in document["events"] if e["originator_id"] == client.id),
        key=lambda e: e["version"],
    )
    assert [e["version"] for e in mine] == [1, 2, 3, 4]
    assert [e["topic"] is None for e in mine] == [False, True, True, False]
    assert all(e["proof"] is not None for e in mine)
    text = signed.decode() + "".join(
        base64.b64decode(e["state"]).decode() for e in document["events"] if e["state"]
    )
    for told in ("org-oostkust", elsewhere.id, consent_elsewhere):
        assert told not in text
    assert "org-de-brug" in text
    assert consent_here in text


def test_an_export_whose_withheld_event_lacks_its_proof_or_gains_a_topic_fails(
    made: tuple[str, str, bytes], deployment_key: SigningKey
) -> None:
    """A withheld event has no content to hash: only its proof in a signed seal holds it."""
    client_id = made[0]

    def withheld(document: Document, **change: Any) -> None:
        event = next(e for e in document["events"] if e["originator_id"] == client_id)
        event.update({"topic": None, "state": None, **change})

    unproved = verify_export(
        _changed(made[2], lambda d: withheld(d, proof=None)), deployment_key.public
    )
    half = verify_export(_changed(made[2], lambda d: withheld(d, topic="x")), deployment_key.public)

    assert unproved.failure is not None
    assert "not proved in a signed seal" in unproved.failure
    assert half.failure is not None
    assert "withheld in part" in half.failure
