"""A release's description as stored is a contract: a description saved before a field was
added is read back with that field's default, which must be true of it."""

from datetime import UTC, datetime

import msgspec

from projections.statistics.store import _DESCRIPTION, AuditSummary, ReleaseDescription

#: A description as saved before ``AuditSummary.narrowed_before`` existed (release 1 of 2025Q1).
SAVED_BEFORE_NARROWED_BEFORE = b"""{
  "number": 1, "period": "2025Q1", "revises": null,
  "computed_at": "2025-05-01T02:00:00Z", "log_position": 812,
  "rule_set": "rodedraad-statistics/2", "k": 10, "deployment": "ovl",
  "deadline_policies": {"east-flanders": "3f9a"}, "regions": ["east-flanders"],
  "tables": [{"name": "flow", "cells": 14, "published": 6,
              "withheld_by_rule": {"primary": 5, "secondary": 3}}],
  "audit": {"withheld_counts_audited": 8, "earlier_versions": [],
            "narrowest_margin": 1.25}
}"""


def test_a_description_saved_before_narrowed_before_reads_back_with_none_cut() -> None:
    description = _DESCRIPTION.decode(SAVED_BEFORE_NARROWED_BEFORE)

    assert description.audit == AuditSummary(
        withheld_counts_audited=8,
        earlier_versions=[],
        narrowest_margin=1.25,
        narrowed_before=0,
    )
    assert description.computed_at == datetime(2025, 5, 1, 2, tzinfo=UTC)


def test_a_description_with_cut_intervals_says_how_many_when_read_back() -> None:
    saved = msgspec.structs.replace(
        _DESCRIPTION.decode(SAVED_BEFORE_NARROWED_BEFORE),
        rule_set="rodedraad-statistics/3",
        audit=AuditSummary(
            withheld_counts_audited=8,
            earlier_versions=[1],
            narrowest_margin=1.0,
            narrowed_before=3,
        ),
    )

    again = msgspec.json.decode(msgspec.json.encode(saved), type=ReleaseDescription)

    assert again.audit.narrowed_before == 3
    assert again == saved
