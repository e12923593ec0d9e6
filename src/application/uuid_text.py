"""The text of a UUID, remembered: ``str(uuid)`` formats in Python (≈ 1.5 µs), and a rebuild
asks for the same records' ids millions of times (the associated data of each sealed field, each
read model row's key; issue #22)."""

from uuid import UUID

#: Ids remembered at most; past it the memo starts afresh. A rebuild's window holds at most 4,000
#: records: a larger memo only grows with the log (at 100,000 it put ≈ 24 MiB on a share's peak
#: at the large size, against the flat memory of issue #22).
MEMO_ENTRIES = 10_000

_texts: dict[UUID, str] = {}


def uuid_text(value: UUID) -> str:
    """``str(value)``."""
    text = _texts.get(value)
    if text is None:
        if len(_texts) >= MEMO_ENTRIES:
            _texts.clear()
        text = _texts[value] = str(value)
    return text
