"""``src/domain/README.md`` names the method that enforces each rule: every one must exist."""

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import domain

MAP = Path(__file__).parents[2] / "src" / "domain" / "README.md"
#: Every module of the domain: a new aggregate's rules are looked up without a list to extend.
MODULES = tuple(f"domain.{module.name}" for module in pkgutil.iter_modules(domain.__path__))

#: The last column of the rule tables: what enforces the rule.
_ENFORCED_BY = re.compile(r"^\|.*\|\s*(?P<where>[^|]+?)\s*\|\s*$")
_QUALIFIED = re.compile(r"`([A-Z][A-Za-z]+)\.([A-Za-z_]+)`")
_IN_FILE = re.compile(r"`([a-z_]+)` in `([a-z_]+)\.py`")


def _rule_rows() -> list[str]:
    text = MAP.read_text()
    rules = text[text.index("## The rules") : text.index("## Events are a stored contract")]
    return [
        match.group("where")
        for line in rules.splitlines()
        if line.startswith("| ") and not line.startswith("| rule")
        if (match := _ENFORCED_BY.match(line))
    ]


def _find(name: str) -> object:
    for module in MODULES:
        found = getattr(importlib.import_module(module), name, None)
        if found is not None:
            return found
    raise LookupError(name)


def named_methods() -> list[tuple[str, str]]:
    return sorted({m.groups() for row in _rule_rows() for m in _QUALIFIED.finditer(row)})


def named_functions() -> list[tuple[str, str]]:
    return sorted({m.groups() for row in _rule_rows() for m in _IN_FILE.finditer(row)})


def test_every_rule_names_where_it_is_enforced() -> None:
    rows = _rule_rows()

    assert len(rows) >= 30
    assert all(_QUALIFIED.search(row) or _IN_FILE.search(row) for row in rows), rows


@pytest.mark.parametrize(("owner", "member"), named_methods(), ids=lambda p: str(p))
def test_the_method_a_rule_names_exists(owner: str, member: str) -> None:
    assert hasattr(_find(owner), member), f"{owner}.{member} is named in {MAP.name}"


@pytest.mark.parametrize(("function", "module"), named_functions(), ids=lambda p: str(p))
def test_the_function_a_rule_names_exists(function: str, module: str) -> None:
    assert callable(getattr(importlib.import_module(f"domain.{module}"), function))
