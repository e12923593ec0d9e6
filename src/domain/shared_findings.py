"""A trajectory's finding shared with the region's learning network, without a trace back
(issue #14 point 2).

Seed 001: findings of the cooperation consultations of single trajectories become themes of the
region's learning network. The network must never be able to tell which trajectory, client or
family a theme came from, so the text is written for sharing and checked before it leaves the
trajectory, and proposals enter the network in batches (``batch_is_due``).

The text lives outside the client's encryption (the network's events are not sealed) and an
erasure of the client does not reach it: that is why nothing personal may be in it. The rules:

- ``check_shareable``: refused when the text contains any part of a name recorded for the
  trajectory (the client's, a representative's, a person of the network at a consultation),
  matched regardless of case and diacritics, an e-mail address, a phone number (Belgian and
  Dutch formats) or a calendar date (numeric, or with a Dutch or English month name). The
  refusal names *what kind* of thing matched and where, never the matched text, so that neither
  the answer nor a log line repeats personal data.
- ``batch_is_due``: a region's batch enters the network once it holds proposals from at least
  ``MIN_TRAJECTORIES`` trajectories, or once its oldest proposal is ``MAX_WAIT_MONTHS`` old (so a
  lone proposal is not tied to last week's case).

Pure functions: no I/O, the day passed in.
"""

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from domain.errors import InvalidCommand

#: 001/issue #14: a batch enters the network with proposals of at least three trajectories …
MIN_TRAJECTORIES = 3
#: … or when its oldest proposal is a month old.
MAX_WAIT_MONTHS = 1

#: Parts of a name that are no name on their own (Dutch and French particles, initials): a text
#: about "de wachtlijst" does not name "de Smet". Everything else of two letters or more counts.
NAME_PARTICLES = frozenset(
    {
        "de", "der", "den", "van", "vande", "vander", "ter", "ten", "te", "het", "t",
        "la", "le", "les", "du", "des", "d", "di", "da", "del", "von", "zu", "op", "in",
        "y", "e", "mc", "mac", "st", "sint", "saint",
    }
)  # fmt: skip

_MONTHS = (
    # Dutch
    "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december|"
    "jan|feb|mrt|apr|jun|jul|aug|sep|sept|okt|nov|dec|"
    # English
    "january|february|march|may|june|july|august|october|"
    "mar|oct"
)
_DAY = r"(?:[012]?\d|3[01])"
_ORDINAL = r"(?:st|nd|rd|th|e|ste|de)?"

#: What is refused, each with the words the refusal uses.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an e-mail address", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)),
    (
        "a phone number",
        re.compile(
            r"(?<![\w+])(?:"
            r"(?:\+|00)\s?3[12][\s./-]?(?:\(0\))?[\s./-]?\d(?:[\s./-]?\d){7,8}"  # +32 / +31
            r"|0\d(?:[\s./-]?\d){7,8}"  # 09 123 45 67, 0470 12 34 56, 06-12345678, 020-1234567
            r")(?!\w)"
        ),
    ),
    (
        "a calendar date",
        re.compile(
            r"(?<!\d)(?:"
            rf"{_DAY}[/-](?:0?[1-9]|1[0-2])(?:[/-](?:\d{{4}}|\d{{2}}))?"  # 12/3, 12-03-2024
            rf"|{_DAY}\.(?:0?[1-9]|1[0-2])\.(?:\d{{4}}|\d{{2}})"  # 12.03.2024 (not 4.2)
            r"|\d{4}-(?:0?[1-9]|1[0-2])-\d{1,2}"  # 2024-03-12
            rf"|{_DAY}{_ORDINAL}\s+(?:{_MONTHS})\.?(?:\s+\d{{4}})?"  # 12 maart (2024), 3rd May
            rf"|(?:{_MONTHS})\.?\s+{_DAY}{_ORDINAL}(?!\d)(?:,?\s+\d{{4}})?"  # March 12(, 2024)
            rf"|(?:{_MONTHS})\.?\s+\d{{4}}"  # maart 2024
            r")(?!\d)",
            re.IGNORECASE,
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class Match:
    """What kind of identifying thing a text holds, and where (never the text itself)."""

    kind: str
    start: int


class IdentifyingText(InvalidCommand):
    """Issue #14 point 2: a finding is written for sharing; it names no person, no contact and
    no date that could lead back to the family."""

    rule = "shared-finding-names-no-one"

    def __init__(self, matches: Sequence[Match], field: str) -> None:
        kinds = sorted({m.kind for m in matches})
        where = ", ".join(str(m.start) for m in matches[:10])
        super().__init__(
            f"the {field} contains {', '.join(kinds)} (at character {where}); a shared finding "
            "leaves the client's record for good (an erasure does not reach it): rewrite it "
            "without names, contact details or dates",
            field=field,
        )
        self.kinds = tuple(kinds)


def fold(text: str) -> str:
    """Case and diacritics folded: ``Émile`` and ``emile``, ``DE SMET`` and ``de Smet`` meet.
    One character in, one out (positions stay those of the text)."""
    out = []
    for ch in text:
        stripped = "".join(
            c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
        )
        out.append((stripped or ch).casefold()[:1] or ch)
    return "".join(out)


_WORD = re.compile(r"[^\W\d_]+")


def name_parts(names: Iterable[str]) -> frozenset[str]:
    """Every part of every name (folded), but particles and single letters."""
    parts = set()
    for name in names:
        for word in _WORD.findall(fold(name)):
            if len(word) >= 2 and word not in NAME_PARTICLES:
                parts.add(word)
    return frozenset(parts)


def is_reference(name: str) -> bool:
    """A person recorded by an opaque reference (``person-7f3a``) rather than a name: it holds a
    digit. Its words are no name (``person``), the reference as a whole is."""
    return any(ch.isdigit() for ch in name)


def identifying_parts(text: str, names: Iterable[str]) -> list[Match]:
    """What in ``text`` could identify the family: parts of ``names`` (as whole words, folded),
    references recorded for a person (as written, folded), e-mail addresses, phone numbers and
    calendar dates, in the order they occur."""
    found = []
    names = tuple(names)
    folded = fold(text)
    for reference in {fold(n.strip()) for n in names if is_reference(n) and n.strip()}:
        start = folded.find(reference)
        while start >= 0:
            found.append(Match("a reference to a person recorded for the trajectory", start))
            start = folded.find(reference, start + 1)
    parts = name_parts(n for n in names if not is_reference(n))
    if parts:
        for word in _WORD.finditer(folded):
            if word.group() in parts:
                found.append(Match("a part of a name recorded for the trajectory", word.start()))
    for kind, pattern in _PATTERNS:
        found.extend(Match(kind, m.start()) for m in pattern.finditer(text))
    return sorted(found, key=lambda m: m.start)


def check_shareable(fields: dict[str, str], names: Iterable[str]) -> None:
    """Refuse (``IdentifyingText``) the first field that could identify the family."""
    names = tuple(names)
    for field, text in fields.items():
        matches = identifying_parts(text, names)
        if matches:
            raise IdentifyingText(matches, field)


class ConfirmationMissing(InvalidCommand):
    """Issue #14 point 2: the coordinator confirms the text names no person, school, town or
    date that identifies the family."""

    rule = "shared-finding-confirmed-anonymous"


def check_confirmed(names_no_one: bool) -> None:
    if not names_no_one:
        raise ConfirmationMissing(
            "confirm that the finding names no person, school, town or date that identifies "
            "the family (names_no_one: true); the network keeps it for good",
            field="names_no_one",
        )


def _months_after(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day (31 January + 1 → 28 February)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("every month has a 28th")


def batch_is_due(oldest_received: date, trajectories: int, today: date) -> bool:
    """A region's batch enters the network with proposals of at least ``MIN_TRAJECTORIES``
    trajectories, or when its oldest proposal is ``MAX_WAIT_MONTHS`` old."""
    return trajectories >= MIN_TRAJECTORIES or today >= _months_after(
        oldest_received, MAX_WAIT_MONTHS
    )
