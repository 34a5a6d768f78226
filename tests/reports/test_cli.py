"""`clm report kpis`: the same figures as the API, for the whole company."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.factories import make_user


def run(*args) -> str:
    out = io.StringIO()
    call_command("report", "kpis", *args, stdout=out)
    return out.getvalue()


def test_the_json_gives_the_apis_figures(world, api_as):
    printed = json.loads(run("--as-of", "2026-11-15", "--json"))
    assert printed["period"] == "2026-11"
    api = api_as(make_user("boss", "Manager")).get("/kpis/values", period="2026-11").json_body
    assert {i["key"]: i["value"] for i in printed["items"]} == {i["key"]: i["value"] for i in api["items"]}
    nrr = next(i for i in printed["items"] if i["key"] == "nrr")
    assert (nrr["numerator"], nrr["denominator"]) == (1600, 1700)


def test_the_table_names_each_kpi_with_its_inputs_or_reason(world):
    text = run("--as-of", "2026-11-15", "--period", "month")
    assert "Net revenue retention (NRR)" in text and "1600 / 1700" in text
    assert "No ideal customer profile" in text


def test_a_future_day_is_refused(db):
    with pytest.raises(CommandError, match="future"):
        run("--as-of", "2999-01-01")
