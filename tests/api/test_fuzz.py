"""Property-based requests generated from our own OpenAPI schema (schemathesis): whatever a
client sends, the API never answers with a 500. Slow; deselect with -m 'not slow'.

CI sends 4 fixed examples per endpoint. CLM_FUZZ_EXAMPLES=300 sends that many random ones (on
PostgreSQL, ten minutes): longer runs have found 500s that the short one missed."""

import os

import pytest

schemathesis = pytest.importorskip("schemathesis")

from django.core.signals import request_finished, request_started  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

from clm.core.models import ApiToken  # noqa: E402
from clm.customers.models import Account, Contact  # noqa: E402
from clm.wsgi import application  # noqa: E402

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
EXAMPLES = int(os.environ.get("CLM_FUZZ_EXAMPLES", "4"))


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    # Called as a WSGI app, Django closes the database connection after each request, which
    # would end the test's transaction; Django's own test client avoids this the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(admin_user):
    account = Account.objects.create(name="Fuzz target")
    Contact.objects.create(account=account, name="x")
    return ApiToken.issue(admin_user, "fuzz")[1]


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=EXAMPLES == 4)
def test_no_request_makes_the_api_fail(case, token):
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
