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
  matched regardless of case and diacritics, also written with digits for letters (``S0fie``),
  split by punctuation (``Sof-ie``, ``S.o.f.i.e``) or with an ending (``Vermeulens``,
  ``Sofietje``); a record's identifier or its first eight or more hexadecimal digits, an e-mail
  address, a bank account number (an IBAN of any country), a Belgian national register number
  or a Dutch BSN, a phone number (Belgian and Dutch formats), a calendar date (numeric, or with
  a Dutch or English month name, its day in digits or in words: ``3rd of Nov``, ``derde
  november``) or a week number (``week 45``). An initial alone (``the V. family``) passes: it
  is shared by too many names and words to refuse. Where
  one string matches several kinds, the first in that order is named (a national register
  number is not called a phone number). The refusal names *what kind* of thing matched and
  where, never the matched text, so that neither the answer nor a log line repeats personal
  data.
- What it cannot recognise passes: the name of a person not recorded for the trajectory (a
  teacher, a neighbour: "Jan Peeters waits"), a school, a street or a town. Only the
  coordinator's confirmation (``check_confirmed``) stands between those and the network.
- ``batch_is_due``: a region's batch enters the network once it holds proposals from at least
  ``MIN_TRAJECTORIES`` trajectories, or once its oldest proposal is ``MAX_WAIT_MONTHS`` old (so a
  lone proposal is not tied to last week's case).

Pure functions: no I/O, the day passed in.
"""

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from domain.errors import InvalidCommand, NotAParty

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

#: Words a representative's name is often written with that name no one (``Mother``, ``Sarah
#: (mama)``): an identifier such as ``rep-mother`` says a role, not who (``check_identifier``).
ROLE_WORDS = frozenset(
    {
        "mother", "father", "mum", "mom", "dad", "parent", "parents", "guardian", "foster",
        "grandmother", "grandfather", "grandma", "grandpa", "aunt", "uncle", "sister", "brother",
        "stepmother", "stepfather", "moeder", "vader", "mama", "papa", "ouder", "ouders", "voogd",
        "pleegmoeder", "pleegvader", "pleegouder", "oma", "opa", "tante", "oom", "zus", "broer",
        "stiefmoeder", "stiefvader", "mere", "pere", "tuteur",
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
#: A month's name ends its word: "3 decisions" or "4 separate talks" name no December or
#: September.
_MONTH = rf"(?:{_MONTHS})\.?(?![^\W\d_])"
#: English months that are everyday words too ("the first may help", "the second march"): after
#: a day written out in letters, only with "of" ("the first of May").
_MONTH_NO_WORD = rf"(?!(?:may|march|mar)(?![^\W\d_])){_MONTH}"
#: A day written out as an ordinal, English and Dutch ("third", "twenty-first", "derde",
#: "eenentwintigste").
_SPELLED_DAY = (
    r"(?<![^\W\d_])(?:"
    r"(?:twenty|thirty)[\s-]?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)"
    r"|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth"
    r"|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth"
    r"|thirtieth"
    r"|(?:een|twee|drie|vier|vijf|zes|zeven|acht|negen)[e\u00eb]n(?:twintig|dertig)ste"
    r"|eerste|tweede|derde|vierde|vijfde|zesde|zevende|achtste|negende|tiende|elfde|twaalfde"
    r"|dertiende|veertiende|vijftiende|zestiende|zeventiende|achttiende|negentiende"
    r"|twintigste|dertigste"
    r")(?![^\W\d_])"
)

#: ISO 13616: an IBAN's length per country (SWIFT's IBAN registry). A string of this shape and
#: length is refused even when its check digits fail: a mistyped account number is still the
#: account (its check digits point back to it), and a needless refusal only costs a rewrite.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip

#: Where an IBAN may start: a country code and two check digits (``BE71``, ``BE 71``), not
#: inside a word but right after "IBAN", in any case (``IBANBE71…``, ``ibanbe71…``).
_IBAN_START = re.compile(r"(?:(?<![^\W_])|(?<=(?i:iban)))[A-Za-z]{2}\s?[0-9]{2}")
#: What may follow: letters and digits, written unbroken or in groups (by up to two spaces,
#: dots, slashes or dashes: ``BE71  0961``, ``BE71 / 0961``).
_IBAN_GROUP = re.compile(r"[\s./-]{0,2}([A-Za-z0-9]+)")


def _iban_checksum_holds(iban: str) -> bool:
    """ISO 13616 mod 97: the country code and check digits moved to the end, letters as 10-35."""
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _is_iban(compact: str) -> bool:
    """An IBAN: a registered country's length (whatever its check digits), or any length from 15
    to 34 whose check digits hold (a country missing from the table), with an account number
    that holds digits (six at least: "be12 and the rest of it" is no account)."""
    if not 15 <= len(compact) <= 34 or sum(ch.isdigit() for ch in compact[4:]) < 6:
        return False
    if IBAN_LENGTHS.get(compact[:2]) == len(compact):
        return True
    return _iban_checksum_holds(compact)


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of IBANs in ``text``: unbroken (``BE71096123456769``) or grouped (``BE71 0961 2345
    6769``), any case. The longest span ending at a group's end that is an IBAN is taken, so a
    word after the number (``… 6769 kept``) does not hide it."""
    for start in _IBAN_START.finditer(text):
        compact, end, found = "".join(start.group().split()).upper(), start.end(), 0
        while len(compact) < 34 and (group := _IBAN_GROUP.match(text, end)):
            compact, end = compact + group.group(1).upper(), group.end()
            if len(compact) > 34:
                break
            # (The groups take every ASCII letter and digit: only another script's letter may
            # still glue on, ``…6769é``, and it does not make the number any less an account.)
            if _is_iban(compact):
                found = end
        if found:
            yield start.start(), found


def _register_checksum_holds(digits: str) -> bool:
    """Belgian national register number (and BIS number): 97 - (the first nine digits mod 97),
    with a 2 before them for those born from 2000."""
    check = int(digits[9:])
    return check in (97 - int(digits[:9]) % 97, 97 - int("2" + digits[:9]) % 97)


def _bsn_checksum_holds(digits: str) -> bool:
    """Dutch BSN: the eleven test (9*d1 + 8*d2 + … + 2*d8 - d9 divisible by 11), not all zeros."""
    total = sum(w * int(d) for w, d in zip((9, 8, 7, 6, 5, 4, 3, 2, -1), digits, strict=True))
    return total % 11 == 0 and int(digits) != 0


def _enterprise_number(digits: str) -> bool:
    """A Belgian enterprise number (KBO/BCE, ``0412.345.678``): an organisation's, not a phone:
    its last two digits are 97 - (the first eight mod 97)."""
    return len(digits) == 10 and int(digits[8:]) == 97 - int(digits[:8]) % 97


def _checked(
    pattern: re.Pattern[str], holds: Callable[[str], bool]
) -> Callable[[str], Iterator[tuple[int, int]]]:
    """Spans of ``pattern`` whose digits pass ``holds``."""

    def spans(text: str) -> Iterator[tuple[int, int]]:
        for m in pattern.finditer(text):
            if holds("".join(ch for ch in m.group() if ch.isdigit())):
                yield m.start(), m.end()

    return spans


#: The one kind an identifier may hold (``check_identifier``: ``eval-2026-05``).
_DATE = "a calendar date"
#: A phone number; where ``dates`` are taken, one that overlaps a date is that date and its
#: time (``01/04/2025 14:00``), no phone.
_PHONE = "a phone number"
#: A week number ("week 45", "wk 45"): a date to within a week; taken and left with the dates.
_WEEK = "a week number"
#: A record's identifier (a trajectory's or a client's: a UUID), or the first eight or more of
#: its hexadecimal digits (``9d258e49``, as a short id is written), which lead back to the record
#: for whoever reads them; an identifier may be one (``check_identifier``).
_RECORD_ID = "an identifier of a record"


def _matched(pattern: re.Pattern[str]) -> Callable[[str], Iterator[tuple[int, int]]]:
    return lambda text: (m.span() for m in pattern.finditer(text))


#: What is refused, each with the words the refusal uses, the most telling first: where spans
#: overlap, only the first kind is named (an IBAN's digits, a national register number written
#: 85.07.30-033.28 are no phone number).
_DETECTORS: tuple[tuple[str, Callable[[str], Iterator[tuple[int, int]]]], ...] = (
    (
        _RECORD_ID,
        _matched(
            re.compile(
                r"(?<![0-9a-f])[0-9a-f]{8}(-?)[0-9a-f]{4}\1[0-9a-f]{4}\1[0-9a-f]{4}\1[0-9a-f]{12}"
                r"(?![0-9a-f])",
                re.IGNORECASE,
            )
        ),
    ),
    (
        "an e-mail address",
        # (a match starts where a run of such characters starts: else each start in a long
        # run without an "@" is tried again, quadratic in its length)
        _matched(re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)),
    ),
    ("a bank account number (IBAN)", _ibans),
    (
        "a national register number",
        _checked(
            # 85.07.30-033.28, 850730 033 28, 85073003328
            re.compile(r"(?<![\w+])\d\d[\s./-]?\d\d[\s./-]?\d\d[\s./-]?\d{3}[\s./-]?\d\d(?!\w)"),
            _register_checksum_holds,
        ),
    ),
    (
        "a BSN",
        _checked(
            # 123456782, 123 456 782, 123.456.782, 123-456-782, 1234.56.782
            re.compile(r"(?<![\w+])(?:\d{9}|\d{3}([\s.-])\d{3}\1\d{3}|\d{4}\.\d\d\.\d{3})(?!\w)"),
            _bsn_checksum_holds,
        ),
    ),
    (
        _PHONE,
        _checked(
            re.compile(
                r"(?<![\w+])(?:"
                r"(?:\+|00)\s?3[12][\s./-]?(?:\(0\))?[\s./-]?\d(?:[\s./-]?\d){7,8}"  # +32 / +31
                r"|0\d(?:[\s./-]?\d){7,8}"  # 09 123 45 67, 0470 12 34 56, 06-12345678, 020-1234567
                r")(?!\w)"
            ),
            lambda digits: not _enterprise_number(digits),
        ),
    ),
    (
        _DATE,
        _matched(
            re.compile(
                r"(?<!\d)(?:"
                rf"{_DAY}[/-](?:0?[1-9]|1[0-2])(?:[/-](?:\d{{4}}|\d{{2}}))?"  # 12/3, 12-03-2024
                rf"|{_DAY}\.(?:0?[1-9]|1[0-2])\.(?:\d{{4}}|\d{{2}})"  # 12.03.2024 (not 4.2)
                r"|\d{4}-(?:0?[1-9]|1[0-2])-\d{1,2}"  # 2024-03-12
                # 12 maart (2024), 3rd May, 3rd of Nov, 3 van november
                rf"|{_DAY}{_ORDINAL}\s+(?:(?:of|van)\s+)?{_MONTH}(?:\s+\d{{4}})?"
                rf"|{_MONTH}\s+{_DAY}{_ORDINAL}(?!\d)(?:,?\s+\d{{4}})?"  # March 12(, 2024)
                rf"|{_MONTH}\s+\d{{4}}"  # maart 2024
                # derde november, the third of May, twenty-first Oct 2024
                rf"|{_SPELLED_DAY}\s+(?:(?:of|van)\s+{_MONTH}|{_MONTH_NO_WORD})(?:\s+\d{{4}})?"
                # November the third, Nov third (not "may first")
                rf"|(?!may(?![^\W\d_])){_MONTH}\s+(?:the\s+)?{_SPELLED_DAY}"
                r")(?!\d)",
                re.IGNORECASE,
            )
        ),
    ),
    (
        # The first eight or more hexadecimal digits of a record's id (a short id: ``9d258e49``),
        # a run holding a digit and a letter (a word such as "deadbeef" or a number holds not
        # both); last, so that an account or an address holding such a run is named as such.
        _RECORD_ID,
        _matched(
            re.compile(
                r"(?<![^\W_])(?=[a-f]*[0-9])(?=[0-9]*[a-f])[0-9a-f]{8,}(?![^\W_])",
                re.IGNORECASE,
            )
        ),
    ),
    (
        _WEEK,
        _matched(
            re.compile(
                # week 45, wk 45, week nr. 45, weeknummer 45, 2024-W45
                r"(?<![^\W\d_])(?:week\s*(?:nummer|nr\.?)?|wk\.?)\s*(?:0?[1-9]|[1-4]\d|5[0-3])"
                r"(?!\d)|(?<!\d)\d{4}-?W(?:0[1-9]|[1-4]\d|5[0-3])(?!\d)",
                re.IGNORECASE,
            )
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class Match:
    """What kind of identifying thing a text holds, and where (never the text itself)."""

    kind: str
    start: int


class IdentifyingText(InvalidCommand):
    """Issue #14 point 2: a finding is written for sharing; it names no person, no contact, no
    account or identification number and no date that could lead back to the family."""

    rule = "shared-finding-names-no-one"
    #: What the refusal says after what it found, and where.
    advice = (
        "a shared finding leaves the client's record for good (an erasure does not reach it): "
        "rewrite it without names, contact details, account or identification numbers or dates"
    )

    def __init__(self, matches: Sequence[Match], field: str) -> None:
        kinds = sorted({m.kind for m in matches})
        where = ", ".join(str(m.start) for m in matches[:10])
        super().__init__(
            f"the {field} contains {', '.join(kinds)} (at character {where}); {self.advice}",
            field=field,
        )
        self.kinds = tuple(kinds)


#: Letters of other scripts that read as Latin ones ("Emile" written with a Cyrillic capital Ie
#: reads as "Emile"), Cyrillic and Greek, each letter in both cases to one Latin letter, so that
#: a name in these scripts still meets itself in another case (Taras in capitals and in small
#: Cyrillic letters).
_LOOK_ALIKES = str.maketrans(
    "АаВвЕеКкМмНнОоРрСсТтУуХхЅѕІіЈјҺһԀԁΑαΒβΕεΖζΗηΙιΚκΜμΝνΟοΡρΤτΥυΧχ",
    "aabbeekkmmhhooppccttyyxxssiijjhhddaabbeezzhhiikkmmnnooppttyyxx",
)

#: Characters a reader does not see: format characters (a zero-width space or joiner, a soft
#: hyphen, direction marks) and combining marks written apart from their letter.
_UNSEEN = frozenset({"Cf", "Mn", "Me"})


def fold(text: str) -> str:
    """Case, diacritics and look-alike letters folded: ``Émile``, ``emile`` and an "Emile"
    written with a Cyrillic capital Ie, ``DE SMET`` and ``de Smet`` meet. One character in, one
    out (positions stay those of the text)."""
    out = []
    for ch in text:
        stripped = "".join(
            c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
        )
        out.append((stripped or ch).translate(_LOOK_ALIKES).casefold()[:1] or ch)
    return "".join(out)


def _as_read(text: str) -> tuple[str, list[int]]:
    """The text as a reader sees it, without the characters no one sees (an "Emile" with a
    zero-width space in it reads as ``Emile``), and where each of its characters stands in
    ``text``."""
    kept = [(i, ch) for i, ch in enumerate(text) if unicodedata.category(ch) not in _UNSEEN]
    return "".join(ch for _, ch in kept), [i for i, _ in kept]


_WORD = re.compile(r"[^\W\d_]+")


def name_parts(names: Iterable[str]) -> frozenset[str]:
    """Every part of every name (folded), but particles and single letters; and the name's
    neighbouring parts written as one word (``DeSmet``, ``emiledesmet``)."""
    parts = set()
    for name in names:
        words = _WORD.findall(fold(_as_read(name)[0]))
        for word in words:
            if len(word) >= 2 and word not in NAME_PARTICLES:
                parts.add(word)
        for start in range(len(words)):
            for end in range(start + 2, len(words) + 1):
                joined = words[start:end]
                # Initials and particles alone join into words of every sentence ("J.E." into
                # "je", "de la" into "dela"): a join holds a part that is a name on its own.
                if any(len(w) >= 2 and w not in NAME_PARTICLES for w in joined):
                    parts.add("".join(joined))
    return frozenset(parts)


#: Digits written for the letters they look like (``S0fie``, ``Em1le``, ``3mma``), read back as
#: letters in a word that holds a letter too (a number alone is never a name): 1 as an i or an l.
#: Not 2, 6 and 9 (a z, a g or a b only to some readers: a name written so is no disguise).
_DIGIT_LETTERS = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b"}
#: A day or a number with its ordinal or unit ("3rd", "1ste", "8e", "10u"): no disguised name.
_NUMBER_WITH_SUFFIX = re.compile(r"\d+(?:st|nd|rd|th|e|ste|de|ste|u|h|am|pm|x)")
#: The letters and digits of words (of any script), and what stands between two of them.
_TOKEN = re.compile(r"[^\W_]+")
#: The ending a name takes in a sentence (Dutch and English): the family (``Vermeulens``), a
#: possessive without its apostrophe (``Sofies``). Not ``-e`` or ``-en``: they make everyday
#: words of the commonest surnames ("jongen" and "jonge" of De Jong, "boeren" of De Boer) …
_ENDINGS = ("s",)
#: … and the Dutch diminutive (``Jantje``, ``Sofietje``, ``Pietjes``).
_DIMINUTIVES = ("tjes", "jes", "tje", "je")
#: How long a name is before its endings count: a short name's inflections are everyday words
#: ("Tim" and "time", "Sam" and "same", "Els" and "else", "Al" and "als"); a diminutive is not.
_MIN_INFLECTED = 4
_MIN_DIMINUTIVE = 3


def _spelled(token: str) -> list[str]:
    """``token`` as a name may have been written in it: digits that look like letters read as
    those letters (1 as an i and as an l), when it holds a letter and is no number with its
    suffix; else the token as it stands."""
    if not any(ch.isdigit() for ch in token) or not any(ch.isalpha() for ch in token):
        return [token]
    if _NUMBER_WITH_SUFFIX.fullmatch(token):
        return [token]
    read = "".join(_DIGIT_LETTERS.get(ch, ch) for ch in token)
    return list(dict.fromkeys(read.replace("1", letter) for letter in "il"))


def _names(candidate: str, parts: frozenset[str]) -> bool:
    """``candidate`` is a part of a name, or one with a name's ending or diminutive."""
    if candidate in parts:
        return True
    for endings, shortest in ((_ENDINGS, _MIN_INFLECTED), (_DIMINUTIVES, _MIN_DIMINUTIVE)):
        for ending in endings:
            stem = candidate[: -len(ending)]
            if candidate.endswith(ending) and len(stem) >= shortest and stem in parts:
                return True
    return False


def _disguised_names(folded: str, parts: frozenset[str]) -> set[int]:
    """Where in ``folded`` a part of a name stands written otherwise than as a word of its own:
    with digits for letters (``S0fie``), split by punctuation (``Sof-ie``, ``S.o.f.i.e``) or by
    spaces between single letters (``S o f i e``), or with an ending (``Vermeulens``,
    ``Sofietje``). Words split by a space are not joined ("is a" is no "Isa")."""
    tokens = list(_TOKEN.finditer(folded))
    longest = max(map(len, parts)) + max(map(len, _DIMINUTIVES))
    prefixes = _name_prefixes(parts)
    found = set()
    for i, first in enumerate(tokens):
        joined, previous = "", first
        for j in range(i, len(tokens)):
            token = tokens[j]
            between = folded[previous.end() : token.start()]
            single = len(previous.group()) == 1 and len(token.group()) == 1
            if len(between) > 3 or (any(ch.isspace() for ch in between) and not single):
                break
            joined, previous = joined + token.group(), token
            if len(joined) > longest:
                break
            if any(_names(candidate, parts) for candidate in _spelled(joined)):
                found.add(first.start())
                break
            if not any(reading in prefixes for reading in _readings(joined)):
                break  # no name starts so: joining more tokens cannot make one
    return found


def _name_prefixes(parts: frozenset[str]) -> frozenset[str]:
    """Every beginning of a name's part, with its endings and diminutives (where joining more
    tokens could still lead)."""
    forms = {part + ending for part in parts for ending in ("", *_ENDINGS, *_DIMINUTIVES)}
    return frozenset(form[:n] for form in forms for n in range(1, len(form) + 1))


def _readings(joined: str) -> set[str]:
    """``joined`` as written and with every digit read as the letter it may stand for (more
    readings than ``_spelled`` gives, so that no beginning of a disguised name is missed)."""
    read = "".join(_DIGIT_LETTERS.get(ch, ch) for ch in joined)
    return {joined, read.replace("1", "i"), read.replace("1", "l")}


def is_reference(name: str) -> bool:
    """A person recorded by an opaque reference (``person-7f3a``) rather than a name: it holds a
    digit. Its words are no name (``person``), the reference as a whole is."""
    return any(ch.isdigit() for ch in name)


def identifying_parts(
    text: str, names: Iterable[str], *, dates: bool = True, records: bool = True
) -> list[Match]:
    """What in ``text`` could identify the family: parts of ``names`` (as whole words, folded),
    references recorded for a person (as written, folded), a record's identifier (unless
    ``records`` is false), e-mail addresses, phone numbers and calendar dates (unless ``dates``
    is false), in the order they occur. The text is read as a reader sees it: characters no one
    sees do not split a word, nor look-alike letters of other scripts make another."""
    found = []
    names = tuple(names)
    read, where = _as_read(text)
    folded = fold(read)
    for reference in {fold(_as_read(n)[0].strip()) for n in names if is_reference(n)}:
        start = folded.find(reference) if reference else -1
        while start >= 0:
            found.append(Match("a reference to a person recorded for the trajectory", where[start]))
            start = folded.find(reference, start + 1)
    parts = name_parts(n for n in names if not is_reference(n))
    if parts:
        named = set()
        for word in _WORD.finditer(folded):
            if word.group() in parts:
                named.add(word.start())
        named.update(_disguised_names(folded, parts) - named)
        found += [
            Match("a part of a name recorded for the trajectory", where[start])
            for start in sorted(named)
        ]
    taken: list[tuple[int, int]] = []
    detected = dict(_DETECTORS)
    days = list(detected[_DATE](read))
    for kind, spans in _DETECTORS:
        if (not dates and kind in (_DATE, _WEEK)) or (not records and kind == _RECORD_ID):
            continue
        for start, end in spans(read):
            if kind == _PHONE and any(start < e and s < end for s, e in days):
                continue
            if not any(start < e and s < end for s, e in taken):
                found.append(Match(kind, where[start]))
                taken.append((start, end))
    return sorted(found, key=lambda m: m.start)


def check_shareable(fields: dict[str, str], names: Iterable[str]) -> None:
    """Refuse (``IdentifyingText``) the first field that could identify the family."""
    names = tuple(names)
    for field, text in fields.items():
        matches = identifying_parts(text, names)
        if matches:
            raise IdentifyingText(matches, field)


class IdentifyingIdentifier(InvalidCommand):
    """An identifier a caller chose for an item of a client's record (a goal, a consent, a
    representative …) is kept in the clear after the client's personal data are erased: only
    names, contact details and free texts are sealed. So it names no one: no part of a name
    recorded for the client, no contact, account or identification number."""

    rule = "identifier-names-no-one"

    def __init__(self, matches: Sequence[Match], field: str) -> None:
        kinds = sorted({m.kind.replace("the trajectory", "the client") for m in matches})
        super().__init__(
            f"{field} contains {', '.join(kinds)}: an identifier or a reference stays in the "
            "record after the client's personal data are erased, so it may name no one. Leave "
            "an id out to have one made, or write one that says what it is (such as goal-school "
            "or rep-2; an owner such as org-kompas or mother)",
            field=field,
        )
        self.kinds = tuple(kinds)


def check_identifier(
    field: str, value: str, names: Iterable[str], role_named: Iterable[str] = ()
) -> None:
    """Refuse (``IdentifyingIdentifier``) an identifier holding a part of ``names`` or of
    ``role_named`` (representatives' names, which are often a role: a word of ``ROLE_WORDS``
    there names no one, so ``rep-mother`` for "Mother" is taken), or a contact, account or
    identification number (a date is no person: ``eval-2026-05`` is taken)."""
    roles = [
        " ".join(w for w in _WORD.findall(fold(n)) if w not in ROLE_WORDS)
        if not is_reference(n)
        else n
        for n in role_named
    ]
    named = [n for n in (*names, *roles) if n and n.strip()]
    matches = identifying_parts(value, named, dates=False, records=False)
    if matches:
        raise IdentifyingIdentifier(matches, field)


class IdentifyingNetworkText(IdentifyingText):
    """A learning network's texts (themes, signals, conclusions, lessons …) are kept for good,
    outside every client's encryption, and read by professionals of the region: no erasure
    reaches them. So they hold no contact, account or identification number and no record's
    identifier; a finding of a single trajectory is shared from its trajectory, where it is
    checked against the names the record holds (``check_shareable``)."""

    rule = "network-text-names-no-one"
    advice = (
        "a learning network keeps its texts for good and no erasure reaches them: rewrite it "
        "without contact details, account or identification numbers or a record's identifier "
        "(a finding of a trajectory is shared from the trajectory: POST "
        "/v1/trajectories/{id}/findings/share)"
    )


def check_network_text(field: str, text: str) -> str:
    """``text``, refused (``IdentifyingNetworkText``) when it holds what identifies a person or a
    record without knowing any name: an e-mail address, a bank account, a national register
    number or BSN, a phone number, a record's identifier. A date passes: a network's texts are
    about its meetings and periods."""
    matches = identifying_parts(text, (), dates=False)
    if matches:
        raise IdentifyingNetworkText(matches, field)
    return text


class SharerReadsNoNames(NotAParty):
    """A finding is checked against the names the record holds before it leaves the record; a
    refusal would tell whoever shares it whether a word is part of one. So only a caller who
    reads the client's name shares a finding from the client's trajectory."""

    rule = "finding-shared-by-a-name-reader"

    def __init__(self) -> None:
        super().__init__(
            "a finding is checked against the names recorded for the trajectory before it leaves "
            "the record, so it is shared by an organisation that reads the client's name (the "
            "one that registered the client, or one the client's consent shows contact details "
            "to); ask it to share this finding"
        )


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
