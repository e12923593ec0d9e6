"""Each sealed personal field of an aggregate's events, with its commitment, plaintext and salt
(issue #16): what an audit export ships per field so an offline verifier can check the
plaintext against the commitment the event chain covers (``application.commitments``).

It decrypts: the caller decides who may (the export's authorisation); no key leaves here.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.sqlite import SQLiteApplicationRecorder

from application.care_record import CareRecord
from application.codec import opened
from application.commit_times import event_store_rows
from application.event_chain import stored_bytes
from application.sealing import unseal_text


@dataclass(frozen=True, slots=True)
class CommittedField:
    """One sealed field of one stored event."""

    position: int
    originator_id: UUID
    version: int
    path: str
    #: Hex SHA-256(salt ‖ plaintext); None for an event stored before commitments.
    commitment: str | None
    #: The field's JSON exactly as sealed, and its salt; None once the subject was erased.
    plaintext: bytes | None
    salt: bytes | None


def committed_fields(record: CareRecord, originator_ids: Iterable[UUID]) -> list[CommittedField]:
    """The sealed fields of the events of ``originator_ids`` (a trajectory; a client's
    aggregates: ``record.keys.subjects_of``), in log order per aggregate."""
    recorder: Any = record.recorder
    postgres = not isinstance(recorder, SQLiteApplicationRecorder)
    position = "notification_id" if postgres else "rowid"
    mapper = record.mapper
    found: list[CommittedField] = []
    for originator in originator_ids:
        rows = event_store_rows(
            recorder.datastore,
            postgres,
            f"SELECT {position}, originator_version, state FROM {recorder.events_table_name} "  # noqa: S608
            "WHERE originator_id = ? ORDER BY originator_version",
            (originator if postgres else originator.hex,),
        )
        key = record.keys.key_for(originator)
        for at, version, stored in rows:
            data = stored_bytes(stored)
            if mapper.cipher:
                data = mapper.cipher.decrypt(data)
            if mapper.compressor:
                data = mapper.compressor.decompress(data)
            state: dict[str, Any] = msgspec.json.decode(data)
            sealed = state.get("_sealed")
            if not sealed:
                continue
            commitments: dict[str, str] = state.get("_commitments") or {}
            if key is None:
                raws: dict[str, msgspec.Raw] = dict.fromkeys(commitments, msgspec.Raw(b""))
                salts: dict[str, bytes] = {}
            else:
                raws, salts = opened(unseal_text(key, sealed, str(originator).encode()))
            found.extend(
                CommittedField(
                    position=int(at),
                    originator_id=originator,
                    version=int(version),
                    path=path,
                    commitment=commitments.get(path),
                    plaintext=None if key is None else bytes(raw),
                    salt=salts.get(path),
                )
                for path, raw in raws.items()
            )
    return found
