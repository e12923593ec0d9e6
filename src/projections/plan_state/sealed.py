"""The plan state's sealed columns (``state``, ``doc``): sealed under the trajectory's own key,
bound to their row and column, opened only by the projection (``state``) and the API (``doc``).
"""

from uuid import UUID

from application.keys import KeyStore
from application.sealing import seal, unseal


def _column_aad(trajectory_id: UUID | str, column: str) -> bytes:
    """Binds a sealed value to its row and column: moved elsewhere, it does not open."""
    return f"rm_trajectories|{trajectory_id}|{column}".encode()


def seal_column(key: bytes, trajectory_id: UUID | str, column: str, plaintext: bytes) -> bytes:
    return seal(key, plaintext, _column_aad(trajectory_id, column))


def open_column(key: bytes, trajectory_id: UUID | str, column: str, stored: bytes) -> bytes:
    """Raises ``application.sealing.SealBroken`` if the value was not sealed there with ``key``."""
    return unseal(key, as_bytes(stored), _column_aad(trajectory_id, column))


def as_bytes(value: str | bytes) -> bytes:
    """A sealed or stored value as bytes, whichever way the driver returned it."""
    return value.encode() if isinstance(value, str) else bytes(value)


class DocumentErased(Exception):
    """The trajectory's key was destroyed after its row was written: the projection has yet to
    reach the erasure and rewrite the row with placeholders."""


def open_document(keys: KeyStore, trajectory_id: UUID, erased: bool, stored: bytes) -> bytes:
    """The stored plan-state document as JSON: opened with the trajectory's key, or as stored
    if the row is an erased client's (placeholders only). May read the key from the database:
    call it from a worker thread."""
    if erased:
        return as_bytes(stored)
    key = keys.key_for(trajectory_id)
    if key is None:
        raise DocumentErased(f"trajectory {trajectory_id} was erased; its row is being rewritten")
    return open_column(key, trajectory_id, "doc", stored)
