"""Two ways an outside probe found a person's identity reaching a learning network, whose
members know the region's families: a shared finding's name and date checks got around (a name
with digits for letters, split by punctuation, with an ending; a date with an ordinal or a week
number; a record id's first hex digits), and a network's own texts taking dates, week numbers
and short record ids. Each is refused by the domain, for new input only."""

from collections.abc import Callable

import pytest

from domain.learning_network import (
    ActionProposal,
    Audience,
    Evidence,
    LearningNetwork,
    MeetingKind,
    ProposerKind,
    SignalCategory,
    ThemeSource,
)
from domain.shared_findings import (
    IdentifyingNetworkText,
    IdentifyingText,
    check_network_text,
    check_shareable,
    identifying_parts,
)
from tests.unit.builders import ctx, on
from tests.unit.test_learning_network import known, network, with_theme

NAMES = ("Sofie Vermeulen", "Mother")
NAME = "a part of a name recorded for the trajectory"


def kinds(text: str) -> set[str]:
    return {m.kind for m in identifying_parts(text, NAMES)}


@pytest.mark.parametrize(
    "text",
    [
        "S0fie waits",
        "Sof-ie waits",
        "S.o.f.i.e waits",
        "S. o. f. i. e. waits",
        "S o f i e waits",
        "5ofie waits",
        "Verm3ul3n was told",
        "Vermeu1en was told",
        "Vermeulens wait",
        "the Vermeulen's house",
        "Sofies school",
        "Sofietje waits",
        "Ver-meu-lens wait",
    ],
)
def test_a_name_written_around_the_check_is_still_the_name(text: str) -> None:
    assert kinds(text) == {NAME}
    with pytest.raises(IdentifyingText) as refused:
        check_shareable({"text": text}, NAMES)
    assert "sofie" not in str(refused.value).lower()
    assert "vermeul" not in str(refused.value).lower()


def test_an_initial_alone_is_no_name() -> None:
    """Left on purpose: "the V. family" could be any family whose name starts with a V; refusing
    initials would refuse every abbreviation and single letter."""
    assert kinds("the V. family waits") == set()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("since the 3rd of Nov", "a calendar date"),
        ("since 3 nov", "a calendar date"),
        ("sinds 3 van november", "a calendar date"),
        ("sinds derde november", "a calendar date"),
        ("sinds de eenentwintigste oktober", "a calendar date"),
        ("since the third of May", "a calendar date"),
        ("since twenty-first Oct 2024", "a calendar date"),
        ("since November the third", "a calendar date"),
        ("since week 45", "a week number"),
        ("since wk 45", "a week number"),
        ("sinds weeknummer 7", "a week number"),
        ("since 2024-W45", "a week number"),
        ("see case 9d258e49", "an identifier of a record"),
        ("see case 9D258E49FE8C", "an identifier of a record"),
        ("see case 9d258e49-fe8c", "an identifier of a record"),
    ],
)
def test_a_date_a_week_or_a_short_record_id_is_refused_without_being_repeated(
    text: str, kind: str
) -> None:
    assert kinds(text) == {kind}
    with pytest.raises(IdentifyingText) as refused:
        check_shareable({"text": text}, NAMES)
    message = str(refused.value)
    assert kind in message
    for part in text.split():
        if any(ch.isdigit() for ch in part) or part.lower() in ("nov", "november", "oct"):
            assert part.lower() not in message.lower()


PLAIN = [
    "Children wait months for day care; the school hears of it last.",
    "Kinderen wachten maanden op een plaats; de school hoort het als laatste.",
    "The waiting list for residential care grew in the third quarter.",
    "Funding stops at eighteen: the first may help, the second march of protest did not.",
    "De wachtlijst is lang en de financiering stopt op achttien jaar.",
    "Three decisions were made at 4 separate consultations over 12 weeks.",
    "Each week, 4 families asked the school for help; it is a problem of funding.",
    "Schools and providers share one intake form since the second year.",
    "Jongeren wachten weken; ouders en scholen zoeken samen, ook in de zomer.",
    "A deadbeef of 12345678 is no id, nor are covid-19, mp3 or the 3rd meeting.",
    "Since 2024 the region had 3 networks; section 4.2 of the procedure applies.",
]


@pytest.mark.parametrize("text", PLAIN)
def test_plain_sentences_about_waiting_lists_funding_and_schools_pass(text: str) -> None:
    assert identifying_parts(text, NAMES) == []
    check_shareable({"title": "Waiting lists", "text": text}, NAMES)
    check_network_text("description", text)


@pytest.mark.parametrize(
    "text",
    ["is a problem", "Tim had time", "Sam says the same", "Els and else"],
)
def test_words_split_by_spaces_and_short_names_inflected_are_no_name(text: str) -> None:
    """ "is a" is no "Isa"; a short name's inflections are everyday words."""
    names = ("Isa Peeters", "Tim Claes", "Sam Wouters", "Els Maes")
    found = identifying_parts(text, names)
    assert [text[m.start : m.start + 3].lower() for m in found] == [
        w.lower()[:3] for w in text.split() if w.lower() in ("tim", "sam", "els")
    ]


# --- a network's own texts ----------------------------------------------------------------------

#: What the probe wrote, in the shapes the network can refuse without knowing a name.
SHAPES = [
    "girl (14) of case 9d258e49 in Roeselare, hit since the 3rd of Nov",
    "meisje uit Roeselare, sinds week 45 thuis",
    "since 12 March 2025 the boy sleeps at his aunt's",
    "call her mother on 0470 12 34 56",
]


def _theme(text: str, source: ThemeSource) -> Callable[[LearningNetwork], None]:
    return lambda n: n.propose_theme(
        ctx(5),
        theme_id="theme-x",
        title=text,
        description="Children wait",
        proposer_kind=ProposerKind.REGION_COORDINATOR,
        source_kind=source,
    )


def _writes(text: str) -> list[tuple[str, Callable[[LearningNetwork], None]]]:
    """Every command of a network that records a free text, with ``text`` in it."""
    return [
        ("theme title, other", _theme(text, ThemeSource.OTHER)),
        ("theme title, member experience", _theme(text, ThemeSource.MEMBER_EXPERIENCE)),
        (
            "theme description",
            lambda n: n.propose_theme(
                ctx(5),
                theme_id="theme-x",
                title="Waiting",
                description=text,
                proposer_kind=ProposerKind.MEMBER,
                source_kind=ThemeSource.OTHER,
            ),
        ),
        (
            "signal",
            lambda n: n.raise_signal(
                ctx(5),
                signal_id="signal-x",
                category=SignalCategory.OTHER,
                description=text,
                evidence=Evidence(releases=(1,)),
                addressed_to="the agency",
                known_release=known,
            ),
        ),
        (
            "meeting conclusion",
            lambda n: n.hold_meeting(
                ctx(5),
                meeting_id="meeting-x",
                kind=MeetingKind.LEARNING_NETWORK,
                held_on=on(5),
                members_present=("org-chair",),
                themes_discussed=(),
                releases_consulted=(),
                conclusions=(text,),
                known_release=known,
            ),
        ),
        (
            "lessons",
            lambda n: n.publish_lessons(
                ctx(5),
                year=on(5).year,
                what_worked=("Shared intake",),
                what_did_not=(text,),
                improvement_paths=(),
                action_proposals=(ActionProposal("ap-1", "One form"),),
                audiences=(Audience.POLICY,),
            ),
        ),
        (
            "improvement",
            lambda n: n.start_improvement(
                ctx(5),
                improvement_id="imp-x",
                title="One form",
                action_proposal=text,
                theme_id=None,
            ),
        ),
        ("closing", lambda n: n.close(ctx(5), reason=text)),
    ]


@pytest.mark.parametrize("text", SHAPES)
@pytest.mark.parametrize("which", range(len(_writes(""))))
def test_every_free_text_of_a_network_refuses_the_shapes_that_identify(
    text: str, which: int
) -> None:
    n = with_theme()
    n.collect_events()
    before = n.version
    name, write = _writes(text)[which]
    with pytest.raises(IdentifyingNetworkText) as refused:
        write(n)
    assert refused.value.rule == "network-text-names-no-one", name
    assert n.version == before
    assert not n.collect_events()
    for part in ("9d258e49", "3rd", "45", "12 March", "0470"):
        assert part not in str(refused.value)


def test_answers_and_reasons_of_signals_refuse_them_too() -> None:
    n = network()
    n.raise_signal(
        ctx(5),
        signal_id="signal-x",
        category=SignalCategory.FUNDING,
        description="Funding stops at eighteen",
        evidence=Evidence(releases=(1,)),
        addressed_to="the agency",
        known_release=known,
    )
    with pytest.raises(IdentifyingNetworkText):
        n.answer_signal(ctx(6), signal_id="signal-x", answer=SHAPES[1], answered_by="agency")
    with pytest.raises(IdentifyingNetworkText):
        n.close_signal(ctx(6), signal_id="signal-x", reason=SHAPES[0])


@pytest.mark.parametrize("which", range(len(_writes(""))))
def test_a_network_still_takes_plain_texts(which: int) -> None:
    n = with_theme()
    _writes(PLAIN[0])[which][1](n)
