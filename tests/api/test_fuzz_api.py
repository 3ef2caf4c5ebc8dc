"""Schemathesis against the OpenAPI schema: nothing a client can send gives a 500.

Bounded examples per operation, run as every role, so validation paths and guarded
paths are both walked."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.api.conftest import World

EXAMPLES = int(os.environ.get("VAHTI_FUZZ_EXAMPLES", "25"))


@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_no_client_input_gives_a_server_error(world: World, role: str) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            try:
                case.call_and_validate(
                    headers=world.as_role(role),
                    checks=[not_a_server_error, response_schema_conformance],
                )
            except AssertionError as failure:  # schemathesis' failures are AssertionErrors
                failures.append((case.method, case.path, str(failure)[:500]))

        run()
    assert failures == []
