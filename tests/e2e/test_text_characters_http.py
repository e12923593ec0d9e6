"""What the texts of a command body may hold (found by an outside probe).

Free text (a goal, a consultation's notes, the person's own statement) took every control
character: a NUL reached the plan page and the FHIR bundle, whose strings hold no control
character but tab, CR and LF, and a right-to-left override showed the person a goal other than
the one stored. A name took blanks and zero-width spaces only. And a lone surrogate escape was
answered "Input data was truncated". Free text now takes tab and line breaks and refuses the
other controls and the bidirectional overrides, a name holds at least one visible character,
and the lone surrogate is named.
"""

import re
from typing import Any

import msgspec.inspect as mi
import pytest
from litestar.handlers import HTTPRouteHandler
from litestar.testing import TestClient

from api.bodies import _struct_body
from rodedraad.wiring import Container
from tests.e2e.steps import Record, assert_problem, at, recorded, trajectory_with_plan

#: Characters no text of a body holds: C0 (but tab, LF, CR), DEL, C1, and the bidirectional
#: embeddings, overrides and isolates.
REFUSED = [
    "\x00",
    "\x08",
    "\x0b",
    "\x0c",
    "\x1b",
    "\x1f",
    "\x7f",
    "\x85",
    "\x9f",
    "\u202a",
    "\u202e",
    "\u2066",
    "\u2069",
]
#: The line and paragraph separators: line breaks, taken in free text (text pasted from word
#: processors carries them), refused in one line (a name, a title) with every other break.
SEPARATORS = ["\u2028", "\u2029"]


@pytest.fixture(scope="module")
def trajectory(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> Record:
    return trajectory_with_plan(module_http, module_auth)[1]


@pytest.mark.parametrize("character", REFUSED, ids=lambda c: f"U+{ord(c):04X}")
def test_free_text_with_a_control_or_bidirectional_override_is_invalid_and_not_recorded(
    character: str,
    trajectory: Record,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    before = recorded(module_container)
    body = {"occurred_at": at(4), "description": f"Back {character}to school"}

    response = module_http.post(f"{trajectory.path}/goals", json=body, headers=module_auth)

    problem = assert_problem(response, 422, rule="request-schema", field="description")
    assert problem["detail"] == (
        "description must hold at least one visible character (not only spaces, line breaks "
        "or invisible marks), with no control characters other than tab and line breaks, nor "
        "bidirectional embeddings, overrides or isolates"
    )
    assert recorded(module_container) == before


def test_free_text_takes_tabs_line_breaks_right_to_left_marks_and_joiners(
    trajectory: Record,
) -> None:
    description = (
        "Back to school:\r\n\tthree days\n\u05d3\u05e0\u05d4\u200f, a\u200db\u200e"
        "\u2028pasted\u2029from slides"
    )

    trajectory.post("/goals", {"occurred_at": at(4), "description": description})

    goals = trajectory.state()["goals"]
    assert description in [goal["description"] for goal in goals], goals


@pytest.mark.parametrize(
    "name",
    ["   ", "\u200b", "\u200f", "\u3000\ufeff", " \u00a0 "],
    ids=["spaces", "zero-width space", "right-to-left mark", "ideographic space", "no-break"],
)
@pytest.mark.parametrize("field", ["name", "contact"])
def test_a_name_of_blanks_or_invisible_characters_is_invalid_and_not_recorded(
    field: str,
    name: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    before = recorded(module_container)

    response = module_http.post(
        "/v1/clients", json={"occurred_at": at(0), field: name}, headers=module_auth
    )

    problem = assert_problem(response, 422, rule="request-schema", field=field)
    assert problem["detail"] == (
        f"{field} must be one line that holds at least one visible character (not only "
        "spaces or invisible marks), with no control characters, line breaks or bidirectional "
        "overrides"
    )
    assert recorded(module_container) == before


@pytest.mark.parametrize(
    "name",
    ["\u05d3\u05e0\u05d4\u200f", " Jan ", "\u200bJan", "\u0627\u0644\u0628\u0631\u0627\u0621"],
)
def test_a_name_with_a_visible_character_is_taken(
    name: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    response = module_http.post(
        "/v1/clients", json={"occurred_at": at(0), "name": name}, headers=module_auth
    )

    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "escaped",
    [rb"a\ud800b", rb"a\ud800", rb"\udc00", rb"a\ud800\u0041", rb"\\\ud800"],
    ids=["high then a letter", "high at the end", "low alone", "high then no low", "escaped"],
)
def test_a_lone_surrogate_escape_is_named_and_not_echoed(
    escaped: bytes,
    trajectory: Record,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    before = recorded(module_container)
    body = b'{"occurred_at": "%s", "description": "%s"}' % (at(4).encode(), escaped)

    response = module_http.post(
        f"{trajectory.path}/goals",
        content=body,
        headers={**module_auth, "Content-Type": "application/json"},
    )

    problem = assert_problem(response, 400, rule="request-json")
    assert "lone surrogate" in problem["detail"]
    assert "truncated" not in problem["detail"]
    assert recorded(module_container) == before


def test_a_surrogate_pair_is_taken_and_a_truncated_body_still_says_so(
    trajectory: Record,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    headers = {**module_auth, "Content-Type": "application/json"}
    start = b'{"occurred_at": "%s", "description": "' % at(4).encode()
    # (``\\ud800`` is a backslash and "ud800": no escape, and no surrogate.)
    text = rb"\\ud800 \ud83d\ude00"

    truncated = module_http.post(f"{trajectory.path}/goals", content=start + text, headers=headers)
    paired = module_http.post(
        f"{trajectory.path}/goals", content=start + text + b'"}', headers=headers
    )

    assert "truncated" in assert_problem(truncated, 400, rule="request-json")["detail"]
    assert paired.status_code == 200, paired.text


# --- every text of every body ------------------------------------------------------------------

#: Values valid for some pattern (an identifier, a code), to check a trailing newline is refused.
SAMPLES = ["a", "abc", "12345678", "0403170701", "gdpr_request"]


def _texts(info: Any, at: str, seen: set[type]) -> list[tuple[str, mi.StrType]]:
    """The string types inside a body's type, with where they are."""
    if isinstance(info, mi.StructType):
        if info.cls in seen:
            return []
        seen.add(info.cls)
        return [t for f in info.fields for t in _texts(f.type, f"{at}.{f.name}", seen)]
    if isinstance(info, mi.Metadata):
        return _texts(info.type, at, seen)
    if isinstance(info, mi.UnionType):
        return [t for inner in info.types for t in _texts(inner, at, seen)]
    if isinstance(info, mi.VarTupleType | mi.ListType | mi.SetType | mi.FrozenSetType):
        return _texts(info.item_type, f"{at}[]", seen)
    if isinstance(info, mi.TupleType):
        return [t for inner in info.item_types for t in _texts(inner, f"{at}[]", seen)]
    if isinstance(info, mi.DictType):
        return _texts(info.key_type, at, seen) + _texts(info.value_type, at, seen)
    return [(at, info)] if isinstance(info, mi.StrType) else []


def _body_texts(http: TestClient) -> list[tuple[str, mi.StrType]]:  # type: ignore[type-arg]
    """Every string of every command body of the app, with where it is."""
    bodies = {
        body
        for route in http.app.routes
        for handler in getattr(route, "route_handlers", ())
        if isinstance(handler, HTTPRouteHandler) and (body := _struct_body(handler)) is not None
    }
    return [t for body in bodies for t in _texts(mi.type_info(body), body.__name__, set())]


def test_no_text_of_any_command_body_takes_a_control_character(
    module_http: TestClient,  # type: ignore[type-arg]
) -> None:
    texts = _body_texts(module_http)
    assert len(texts) > 50  # (the walk found the bodies' texts)

    def takes(pattern: str | None, value: str) -> bool:
        return pattern is None or re.search(pattern, value) is not None

    taking = [
        f"{at} takes {character!r}"
        for at, text in texts
        for character in REFUSED
        if takes(text.pattern, f"a{character}b")
        or any(takes(text.pattern, f"{s}{character}") for s in SAMPLES)
    ]
    taking += [
        f"{at} takes {character!r} in one line"
        for at, text in texts
        if not takes(text.pattern, "a\nb")  # (one line)
        for character in SEPARATORS
        if takes(text.pattern, f"a{character}b")
    ]
    # (Python's ``$`` matches before a final newline: a one-line text must refuse that one too.)
    taking += [
        f"{at} takes a final newline"
        for at, text in texts
        if not takes(text.pattern, "a\nb") and any(takes(text.pattern, f"{s}\n") for s in SAMPLES)
    ]
    assert taking == []


#: Texts that show nothing: blanks, line breaks and invisible marks only.
BLANK = ["   ", "\n\n", " \t\r\n ", "\u200b\u2028\u3000", "\ufeff\n\u00a0"]


@pytest.mark.parametrize(
    "text",
    BLANK,
    ids=["spaces", "line breaks", "whitespace", "invisible and separator", "no-break"],
)
def test_required_free_text_of_blanks_only_is_invalid_and_not_recorded(
    text: str,
    trajectory: Record,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    before = recorded(module_container)

    response = module_http.post(
        f"{trajectory.path}/goals",
        json={"occurred_at": at(4), "description": text},
        headers=module_auth,
    )

    problem = assert_problem(response, 422, rule="request-schema", field="description")
    assert problem["detail"] == (
        "description must hold at least one visible character (not only spaces, line breaks "
        "or invisible marks), with no control characters other than tab and line breaks, nor "
        "bidirectional embeddings, overrides or isolates"
    )
    assert recorded(module_container) == before


def test_required_free_text_with_a_visible_character_among_blanks_is_taken(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    trajectory = trajectory_with_plan(module_http, module_auth)[1]
    description = "\n\t \u200b\u2028 .\n"

    trajectory.post("/goals", {"occurred_at": at(4), "description": description})

    # (Recorded without the whitespace around it, as every goal is.)
    assert description.strip() in [goal["description"] for goal in trajectory.state()["goals"]]


def test_no_required_text_of_any_command_body_takes_blanks_only(
    module_http: TestClient,  # type: ignore[type-arg]
) -> None:
    texts = _body_texts(module_http)
    required = [(at, text) for at, text in texts if (text.min_length or 0) >= 1]
    assert len(required) > 30  # (the walk found the required texts)

    taking = [
        f"{at} takes {blank!r}"
        for at, text in required
        for blank in BLANK
        if text.pattern is None or re.search(text.pattern, blank) is not None
    ]
    assert taking == []
