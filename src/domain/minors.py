"""Minors: who exercises a young client's rights — the minor, the parents, or both (issue #19).

Youth care serves children. Which of them decides about their own plan is the jurisdiction's
rule, chosen per deployment (``RODEDRAAD_JURISDICTION``):

- **BE** (wet patiëntenrechten art. 12; decreet rechtspositie minderjarige in de jeugdhulp):
  a minor judged capable of a reasonable assessment of their interests (a professional's
  recorded *capacity assessment*) exercises their rights themselves; the parent-representative
  then loses the rights the minor exercises. Without such an assessment the parents exercise
  them. From 18 the client is of age.
- **NL** (WGBO art. 7:447, 7:450): under 12 the parents; from 12 to 15 the minor *together
  with* the parents; from 16 the minor alone. A capacity assessment does not change these
  bands (the WGBO ties them to age; the exception for a minor of 12-15 who persists against
  the parents is a care decision, not a rule this record applies).

What "together" means here (NL, 12-15): both see the plan; a plan signature counts only with
both the minor's and a parent's (``needs_both_signatures``), either one alone is not enough.

**Age from a year of birth.** The record holds the year of birth only (data minimisation), so
a client born in year Y is ``year - Y - 1`` or ``year - Y`` on a given day. The rule that
protects the minor differs by what is decided: for the *minor's own* rights we count the
higher age (a minor who may already be 12 or 16 is not kept out of their own plan), for the
*parents'* rights that the minor's age takes away we also count the higher age (a parent who may
no longer hold the right does not). Both come to "the minor counts as the older of the two
ages", so one rule: ``possible_age`` is the higher. Of age (18) is decided on the same rule.
An unknown year of birth: the client counts as of age (no parent acts for them unless
appointed as an ordinary representative) — the organisation records the year of birth to
make the minors' rules apply.
"""

from datetime import date
from enum import StrEnum

import msgspec

from domain.errors import InvalidValue

OF_AGE = 18


class Jurisdiction(StrEnum):
    BE = "BE"
    NL = "NL"


class Exerciser(StrEnum):
    """Who exercises the client's rights (reading the plan, signing it)."""

    #: The client alone: of age, or a minor the rules let act alone.
    CLIENT = "client"
    #: The parents (representatives) alone: a young minor.
    PARENTS = "parents"
    #: The minor and the parents together (NL, 12-15).
    TOGETHER = "together"


class CapacityAssessment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A professional's recorded judgement that the minor can (or cannot) exercise their rights
    alone: when, by whom, and the judgement."""

    capable: bool
    assessed_on: date
    author: str


def possible_age(birth_year: int, on: date) -> int:
    """The higher of the two ages a client born in ``birth_year`` can have on ``on`` (the rule
    that protects the minor: module docstring)."""
    return on.year - birth_year


def check_birth_year(birth_year: int, on: date) -> int:
    """A year of birth that can be true: not in the future, not beyond a human life."""
    if not on.year - 130 <= birth_year <= on.year:
        raise InvalidValue(
            f"the year of birth cannot be right on {on.isoformat()}: a year from "
            f"{on.year - 130} to {on.year} is taken",
            field="birth_year",
        )
    return birth_year


def who_exercises(
    jurisdiction: Jurisdiction,
    birth_year: int | None,
    assessment: CapacityAssessment | None,
    on: date,
) -> Exerciser:
    """Who exercises the client's rights on ``on`` under ``jurisdiction``."""
    if birth_year is None:
        return Exerciser.CLIENT
    age = possible_age(birth_year, on)
    if age >= OF_AGE:
        return Exerciser.CLIENT
    if jurisdiction == Jurisdiction.BE:
        if assessment is not None and assessment.capable and assessment.assessed_on <= on:
            return Exerciser.CLIENT
        return Exerciser.PARENTS
    if age >= 16:
        return Exerciser.CLIENT
    if age >= 12:
        return Exerciser.TOGETHER
    return Exerciser.PARENTS


def client_exercises(exerciser: Exerciser) -> bool:
    """Whether the client themselves sees their plan and acts on it."""
    return exerciser in (Exerciser.CLIENT, Exerciser.TOGETHER)


def parent_exercises(exerciser: Exerciser) -> bool:
    """Whether a parent-representative still sees the plan and acts on it (this rule is for the
    representatives of a minor; one the client appointed when of age keeps what they were
    appointed for)."""
    return exerciser in (Exerciser.PARENTS, Exerciser.TOGETHER)


def needs_both_signatures(exerciser: Exerciser) -> bool:
    """NL 12-15: a plan signature counts with both the minor's and a parent's."""
    return exerciser == Exerciser.TOGETHER


def rights_of(
    jurisdiction: Jurisdiction,
    *,
    as_client: bool,
    birth_year: int | None,
    assessment: CapacityAssessment | None,
    on: date,
) -> Exerciser | None:
    """Who exercises the client's rights, when the rules let this person act: the client
    themselves (``as_client``) or a representative; ``None`` when they may not. A
    representative of a client of age keeps what the client appointed them for."""
    exerciser = who_exercises(jurisdiction, birth_year, assessment, on)
    if as_client:
        return exerciser if client_exercises(exerciser) else None
    if not is_minor(birth_year, on):
        return exerciser
    return exerciser if parent_exercises(exerciser) else None


def is_minor(birth_year: int | None, on: date) -> bool:
    """A client of whom the record knows they may still be a minor (the higher age below 18)."""
    return birth_year is not None and possible_age(birth_year, on) < OF_AGE
