"""Hypothesis throws random input at a handful of endpoints: no answer is ever a 500.

Random JSON values, valid bodies with one field changed to anything, any moment of the
calendar, garbage bytes, and odd header values. The examples are derandomised, so a failure
repeats; this module has an app (and database) of its own, so what it records stays here.
"""

import json
from datetime import timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from tests.e2e.catalog import Target
from tests.e2e.steps import assert_handled, assert_problem

FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

#: A handful of endpoints with rich bodies: intake, consultations, agreements, plan, consent.
FUZZED_ROUTES = [
    "/v1/trajectories",
    "/v1/trajectories/{trajectory_id:uuid}/consultations",
    "/v1/trajectories/{trajectory_id:uuid}/role-agreements",
    "/v1/trajectories/{trajectory_id:uuid}/plan-signatures",
    "/v1/trajectories/{trajectory_id:uuid}/evaluations",
    "/v1/trajectories/{trajectory_id:uuid}/handovers",
    "/v1/trajectories/{trajectory_id:uuid}/closure",
    "/v1/clients/{client_id:uuid}/consents",
]


# --- strategies ---------------------------------------------------------------------------------

offsets = st.builds(
    timezone,
    st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23)),
)
moments = st.datetimes(timezones=offsets).map(lambda d: d.isoformat())
days = st.dates().map(lambda d: d.isoformat())
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50)
    | moments
    | days
    | st.sampled_from(["plan", "start", "client", "team", "waiting_list", "", " ", "\x00"])
    | st.just("x" * 5000)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


# --- fuzzing ------------------------------------------------------------------------------------


@FUZZ
@given(route=st.sampled_from(FUZZED_ROUTES), body=json_values)
def test_any_json_body_is_answered_without_a_server_error(
    route: str,
    body: Any,
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    response = module_http.post(
        target.path(route),
        content=json.dumps(body).encode(),
        headers={**module_auth, "Content-Type": "application/json"},
    )

    assert_handled(response)


@FUZZ
@given(route=st.sampled_from(FUZZED_ROUTES), data=st.data())
def test_a_valid_body_with_any_one_field_changed_is_answered_without_a_server_error(
    route: str,
    data: st.DataObject,
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    body = target.body(route)
    name = data.draw(st.sampled_from(sorted(body)), label="field")
    body[name] = data.draw(json_values, label="value")

    response = module_http.post(target.path(route), json=body, headers=module_auth)

    assert_handled(response)


@FUZZ
@given(route=st.sampled_from(FUZZED_ROUTES), occurred_at=moments)
def test_any_moment_in_the_calendar_is_answered_without_a_server_error(
    route: str,
    occurred_at: str,
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    body = {**target.body(route), "occurred_at": occurred_at}

    response = module_http.post(target.path(route), json=body, headers=module_auth)

    assert_handled(response)


@FUZZ
@given(route=st.sampled_from(FUZZED_ROUTES), body=st.binary(max_size=2000))
def test_any_bytes_as_a_body_are_answered_without_a_server_error(
    route: str,
    body: bytes,
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    response = module_http.post(
        target.path(route),
        content=body,
        headers={**module_auth, "Content-Type": "application/json"},
    )

    assert_handled(response)


#: Visible ASCII and spaces: what a header carries (non-ASCII has a test of its own below).
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300)


@FUZZ
@given(
    header=st.sampled_from(["If-Match", "Idempotency-Key", "X-On-Behalf-Of", "X-Correlation-ID"]),
    value=header_values,
)
def test_any_precondition_or_correlation_header_is_answered_without_a_server_error(
    header: str,
    value: str,
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    route = "/v1/trajectories/{trajectory_id:uuid}/goals"
    headers: dict[str, Any] = {**module_auth, header: value}

    response = module_http.post(target.path(route), json=target.body(route), headers=headers)

    assert_handled(response)


@FUZZ
@given(value=header_values)
def test_any_authorization_header_is_answered_without_a_server_error(
    value: str,
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
) -> None:
    route = "/v1/trajectories/{trajectory_id:uuid}/goals"

    response = module_http.post(
        target.path(route),
        json=target.body(route),
        headers={"Authorization": value},
    )

    assert_problem(response, 401)
