"""Property-based run over /openapi.json: no 5xx, and every response matches its documented schema.

Driven with hypothesis directly (schemathesis's pytest plugin does not support pytest 9 yet).
"""

from __future__ import annotations

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.roles.conftest import Token

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EVERY_ROLE = ["Executive", "PlantManager", "Supervisor", "IntegrationAdmin"]
EXAMPLES_PER_OPERATION = 30


@pytest.mark.slow
def test_api_conforms_to_its_openapi_document(api_app: Flask, token: Token) -> None:
    # One caller holding every role, so generated requests reach the views and not only the 403 path.
    caller = token(EVERY_ROLE, user="EXEC_ANNA", Plant=["1010"], WorkCenter=["ASSY1010"])
    headers = {"Authorization": f"Bearer {caller}"}
    schema = schemathesis.openapi.from_wsgi("/openapi.json", api_app)
    # GET /api/v1/events is the event stream process's (app/event_stream.py; tests/e2e/test_event_stream.py).
    operations = [op for op in (result.ok() for result in schema.get_all_operations()) if op.path != "/api/v1/events"]
    assert len(operations) >= 10
    statuses: list[int] = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: schemathesis.Case) -> None:
            statuses.append(case.call_and_validate(headers=headers, checks=CHECKS).status_code)

        conforms()

    # The run must have exercised the views for real, not only their error paths.
    assert len(statuses) > 5 * len(operations)
    assert statuses.count(200) > len(operations)
