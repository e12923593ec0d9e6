"""Metrics an operator scrapes (issue #20 point 2): on a listener of their own, in the format
Prometheus' own parser reads, and never labelled with an id or an organisation."""

import re
import urllib.request
from collections.abc import Iterator
from dataclasses import replace

import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from rodedraad.settings import Settings
from rodedraad.wiring import start_metrics_listener
from tests.e2e.conftest import TokenFactory
from tests.e2e.steps import at, bearer, refer, register_client
from tests.e2e.test_readme_walkthrough import free_port

#: A uuid with or without dashes, or any long run of hex: an id, never a label value.
ID_LIKE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-|[0-9a-f]{16,}", re.IGNORECASE)

Samples = dict[str, list[tuple[dict[str, str], float]]]


def scrape(address: tuple[str, int]) -> Samples:
    """``GET /metrics``, parsed by the Prometheus client's own parser: samples by name."""
    url = f"http://{address[0]}:{address[1]}/metrics"
    with urllib.request.urlopen(url, timeout=5) as answer:
        text = answer.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        value
        for found, value in samples.get(name, [])
        if all(found.get(k) == v for k, v in labels.items())
    )


@pytest.fixture
def listening(
    module_app: tuple[Settings, object, TestClient],  # type: ignore[type-arg]
) -> Iterator[tuple[str, int]]:
    address = ("127.0.0.1", free_port())
    stop = start_metrics_listener(replace(module_app[0], metrics_address=address))
    assert stop is not None
    try:
        yield address
    finally:
        stop()


def test_metrics_count_requests_commands_reads_and_erasures_without_ids_or_organisations(
    listening: tuple[str, int],
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
) -> None:
    before = scrape(listening)
    client = register_client(module_http, module_auth, name="Lotte")
    trajectory = refer(module_http, module_auth, client.id)
    trajectory.post("/acceptance", {"occurred_at": at(1)})
    refused = module_http.post(
        f"{trajectory.path}/acceptance", json={"occurred_at": at(1)}, headers=module_auth
    )
    assert refused.status_code == 409, refused.text
    assert module_http.get(client.path, headers=module_auth).status_code == 200
    officer = bearer(module_token(user="user-dpo", roles=("data_protection_officer",)))
    client.post("/erasure", {"occurred_at": at(2), "legal_basis": "gdpr_request"}, headers=officer)

    after = scrape(listening)

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    route = "/v1/trajectories/{trajectory_id}/acceptance"
    assert grew("rodedraad_http_requests_total", route=route, status="200") == 1
    assert grew("rodedraad_http_requests_total", route=route, status="409") == 1
    assert grew("rodedraad_http_request_duration_seconds_count", route=route) == 2
    assert grew("rodedraad_commands_total", action="accept", outcome="recorded") == 1
    # What grew, not what is there: the process's registry also counts earlier tests' refusals.
    rules = {labels.get("rule", "") for labels, _ in after["rodedraad_commands_total"]}
    refusals = {
        rule: grown
        for rule in rules
        if (
            grown := grew("rodedraad_commands_total", action="accept", outcome="refused", rule=rule)
        )
    }
    assert refusals == {refused.json()["rule"]: 1}
    assert grew("rodedraad_personal_data_reads_total", role="coordinator") >= 1
    assert grew("rodedraad_erasures_total") == 1
    assert "rodedraad_statistics_releases_total" in after

    values = {v for samples in after.values() for labels, _ in samples for v in labels.values()}
    assert not [v for v in values if ID_LIKE.search(v)]
    for never in (client.id, trajectory.id, "org-coordinating", "west-flanders", "Lotte"):
        assert not [v for v in values if never in v], never
