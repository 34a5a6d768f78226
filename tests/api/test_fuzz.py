"""Property-based requests generated from our own OpenAPI schema (schemathesis), a few per
operation, with an admin's token and a sales rep's: whatever a client sends that the schema
allows, the API never answers with a 500, and every answer matches the schema (status and body).
The same code as bench/fuzz_api.py, which sends 300 per operation; slow, deselect with -m 'not slow'."""

import os

import pytest

pytest.importorskip("schemathesis")

from django.core.signals import request_finished, request_started  # noqa: E402
from django.db import close_old_connections  # noqa: E402

from bench.fuzz_api import fuzz, seed_company  # noqa: E402
from clm.wsgi import application  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
EXAMPLES = int(os.environ.get("CLM_FUZZ_EXAMPLES", "2"))


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    # Called as a WSGI app, Django closes the database connection after each request, which
    # would end the test's transaction; Django's own test client avoids this the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_no_schema_valid_request_makes_the_api_fail_or_answer_off_schema(db):
    report = fuzz(application, seed_company(), EXAMPLES, seed=0 if EXAMPLES <= 4 else None)
    assert report.requests >= EXAMPLES * 2 * 150  # every operation, both tokens
    assert report.ok, "\n".join(report.lines())
