"""Property-based run of schemathesis against the API's own OpenAPI schema: generated
requests (valid and invalid) never get a 500 and every answer matches the schema."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from serverkit import scrm_config, seed_cases  # noqa: F401

from scrm.server import create_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 5  # per operation: bounded in count, and the whole run in time (< 10 s)


def test_the_api_conforms_to_its_own_schema(app, cli) -> None:
    headers = seed_cases(app, cli)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(app))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 17

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()
