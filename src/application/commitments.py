"""Commitments to the plaintext of sealed personal fields (issue #16), and checking them.

A sealed field's commitment ``C = SHA-256(salt ‖ plaintext)`` is stored in the clear beside
its ciphertext (``application.codec``), inside the event's stored bytes, so the event chain
covers it. The salt (16 random bytes) is sealed together with the plaintext under the subject's
key: whoever may decrypt gets plaintext and salt and can check them against the chained
commitment — an auditor's export ships them per field for an offline verifier — while after an
erasure the salt is gone with the key and the commitment says nothing about what it hid.

Events stored before commitments have none: ``committed_fields`` lists their fields with
``commitment`` None, and nothing can be checked for them beyond the chain over their ciphertext.
"""

import hashlib
import hmac
import os

SALT_BYTES = 16


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)


def commitment(salt: bytes, plaintext: bytes) -> str:
    """``SHA-256(salt ‖ plaintext)`` as hex: what is stored."""
    return hashlib.sha256(salt + plaintext).hexdigest()


def matches(plaintext: bytes, salt: bytes, stored: str) -> bool:
    """Whether ``plaintext`` and ``salt`` (from decrypting) are what ``stored`` commits to."""
    return hmac.compare_digest(commitment(salt, plaintext), stored)
