"""Reading the deadline policy file: the shipped defaults, or an operator's file with overrides.

An invalid file is refused at start with a message naming the rule and the field.
"""

import hashlib
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from domain.deadlines import Anchor, DeadlinePolicy, DeadlineRule, Offset, Satisfier

_DURATION = re.compile(r"^\s*(\d{1,4})\s*(day|days|week|weeks|month|months|year|years)\s*$")
_RULE_FIELDS = {
    "source",
    "expected",
    "starts",
    "due_after",
    "satisfied_by",
    "remind_before",
    "enabled",
}


class PolicyError(ValueError):
    """The policy file cannot be used; the message names the rule and field."""


def parse_duration(text: object, where: str) -> Offset:
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise PolicyError(f"{where}: {text!r} is not a duration such as '14 days' or '3 months'")
    amount, unit = int(match.group(1)), match.group(2).rstrip("s")
    return {
        "day": Offset(days=amount),
        "week": Offset(days=7 * amount),
        "month": Offset(months=amount),
        "year": Offset(months=12 * amount),
    }[unit]


def _choice(kind: type[Anchor] | type[Satisfier], value: object, where: str) -> Any:
    try:
        return kind(str(value))
    except ValueError:
        allowed = ", ".join(k.value for k in kind)
        raise PolicyError(f"{where}: {value!r} is not one of {allowed}") from None


def _rule(
    name: str, raw: object, defaults: dict[str, Any], base: DeadlineRule | None, origin: str
) -> DeadlineRule:
    where = f"{origin}: rule {name!r}"
    if not isinstance(raw, dict):
        raise PolicyError(f"{where} must be a table")
    unknown = set(raw) - _RULE_FIELDS
    if unknown:
        raise PolicyError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    if base is None:
        missing = {"starts", "due_after", "satisfied_by"} - set(raw)
        if missing:
            raise PolicyError(f"{where}: missing field(s) {', '.join(sorted(missing))}")
    enabled = raw.get("enabled", base.enabled if base else True)
    if not isinstance(enabled, bool):
        raise PolicyError(f"{where} field 'enabled': must be true or false")
    remind = raw.get("remind_before", None if base else defaults.get("remind_before"))
    return DeadlineRule(
        name=name,
        source=str(raw.get("source", base.source if base else "")),
        expected=str(raw.get("expected", base.expected if base else name.replace("_", " "))),
        starts=_choice(Anchor, raw["starts"], f"{where} field 'starts'")
        if "starts" in raw
        else base.starts,  # type: ignore[union-attr]
        due_after=parse_duration(raw["due_after"], f"{where} field 'due_after'")
        if "due_after" in raw
        else base.due_after,  # type: ignore[union-attr]
        satisfied_by=_choice(Satisfier, raw["satisfied_by"], f"{where} field 'satisfied_by'")
        if "satisfied_by" in raw
        else base.satisfied_by,  # type: ignore[union-attr]
        remind_before=parse_duration(remind, f"{where} field 'remind_before'")
        if remind is not None
        else (base.remind_before if base else Offset(days=7)),
        enabled=enabled,
    )


def _positive_int(raw: dict[str, Any], key: str, default: int, origin: str) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PolicyError(f"{origin}: learning_network field {key!r} must be a whole number ≥ 0")
    return value


def load_policy(
    text: str, origin: str = "policy", base: DeadlinePolicy | None = None
) -> DeadlinePolicy:
    """Parse a policy; with ``base``, its rules are defaults that this text amends."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(f"{origin}: not valid TOML: {e}") from None
    unknown = set(data) - {"defaults", "rules", "overrides", "learning_network"}
    if unknown:
        raise PolicyError(f"{origin}: unknown section(s) {', '.join(sorted(unknown))}")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict) or set(defaults) - {"remind_before"}:
        raise PolicyError(f"{origin}: [defaults] takes remind_before only")
    rules_raw = data.get("rules", {})
    if not isinstance(rules_raw, dict) or (base is None and not rules_raw):
        raise PolicyError(f"{origin}: no [rules.*] tables")
    rules = {rule.name: rule for rule in base.rules} if base else {}
    for name, raw in rules_raw.items():
        rules[name] = _rule(name, raw, defaults, rules.get(name), origin)
    overrides = list(base.overrides) if base else []
    overrides_raw = data.get("overrides", [])
    if not isinstance(overrides_raw, list):
        raise PolicyError(f"{origin}: overrides must be [[overrides]] tables")
    for i, raw in enumerate(overrides_raw):
        where = f"{origin}: overrides[{i}]"
        if not isinstance(raw, dict):
            raise PolicyError(f"{where} must be a table")
        unknown = set(raw) - {"region", "sector", "rules"}
        if unknown:
            raise PolicyError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        if "region" not in raw and "sector" not in raw:
            raise PolicyError(f"{where}: name a region, a sector or both")
        replaced = []
        override_rules = raw.get("rules", {})
        if not isinstance(override_rules, dict):
            raise PolicyError(f"{where}: rules must be a table")
        for name, rule_raw in override_rules.items():
            replaced.append(_rule(name, rule_raw, defaults, rules.get(name), where))
        overrides.append((raw.get("region"), raw.get("sector"), tuple(replaced)))
    network = data.get("learning_network", {})
    sessions = base.learning_sessions_per_year if base else 4
    forums = base.forum_sessions_per_year if base else 1
    sector = base.sector_consultations_per_year if base else 1
    return DeadlinePolicy(
        rules=tuple(rules.values()),
        overrides=tuple(overrides),
        learning_sessions_per_year=_positive_int(network, "sessions_per_year", sessions, origin),
        forum_sessions_per_year=_positive_int(network, "forum_sessions_per_year", forums, origin),
        sector_consultations_per_year=_positive_int(
            network, "sector_consultations_per_year", sector, origin
        ),
        fingerprint=hashlib.sha256(
            ((base.fingerprint if base else "") + text).encode()
        ).hexdigest()[:12],
    )


def default_policy_text() -> str:
    return resources.files("scheduler").joinpath("policy.toml").read_text()


def read_policy(path: Path | None) -> DeadlinePolicy:
    """The shipped defaults, amended by the operator's policy file if there is one."""
    defaults = load_policy(default_policy_text(), "default policy")
    if path is None:
        return defaults
    try:
        text = path.read_text()
    except OSError as e:
        raise PolicyError(f"policy file {path}: {e.strerror}") from None
    return load_policy(text, f"policy file {path}", base=defaults)
