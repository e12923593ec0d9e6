"""A release's description as stored is a contract: a description saved before a field was
added is read back with that field's default, which says "not recorded" rather than guess."""

from datetime import UTC, datetime

from projections.statistics.store import _DESCRIPTION, AuditSummary

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


def test_a_description_saved_before_narrowed_before_reads_back_as_not_recorded() -> None:
    description = _DESCRIPTION.decode(SAVED_BEFORE_NARROWED_BEFORE)

    assert description.audit == AuditSummary(
        withheld_counts_audited=8,
        earlier_versions=[],
        narrowest_margin=1.25,
        narrowed_before=None,
    )
    assert description.computed_at == datetime(2025, 5, 1, 2, tzinfo=UTC)
