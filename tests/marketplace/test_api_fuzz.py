"""Fuzz the JSON API from its own OpenAPI document: whatever arrives, no 500 and answers as documented."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from marketplace.extensions import db
from marketplace.services import accounts
from tests.builders import make_goal, make_mentor, make_user

pytestmark = pytest.mark.once


@pytest.fixture
def api_token(app) -> str:
    owner = make_user(company="Old Industry AG")
    make_goal(owner=owner, title="Understand generative AI")
    make_mentor(headline="AI for executives", text="Generative AI explained.", company="Neuronal GmbH")
    token = accounts.create_api_token(owner)
    db.session.commit()
    return token


# Rules between the items of a body that a schema cannot state: a window ends after it starts, and windows of
# one day do not overlap. Schema-valid bodies that break them get 422, which the check would count as refused.
RULES_ACROSS_ITEMS = {"PUT /me/availability"}


def test_the_api_never_fails_and_keeps_its_contract(app, api_token):
    """Every documented operation, with generated valid and invalid input: no 5xx, documented answers."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {api_token}"}
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        excluded = [ignored_auth, *([positive_data_acceptance] if operation.label in RULES_ACROSS_ITEMS else [])]

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def exercise(case) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"
            # Our token is added by hand, so schemathesis' own probe of invalid credentials does not apply;
            # test_api.py checks that bad tokens get 401.
            case.validate_response(response, excluded_checks=excluded)  # noqa: B023  (called before the next loop)

        exercise()
        checked.append(operation.label)
    assert len(checked) >= 9
