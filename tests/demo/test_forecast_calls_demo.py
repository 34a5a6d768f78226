"""The demo's forecast: the owners' calls on their open deals, each recorded, so the forecast
page shows commit and best case on first start."""

import pytest

pytestmark = pytest.mark.slow


def test_the_demo_makes_forecast_calls_on_open_deals(company, db):
    from django.db.models import Count

    from clm.demo.sales import sales_process
    from clm.sales.models import ForecastCallChange, Opportunity

    sales_process()
    open_deals = Opportunity.objects.exclude(stage__in=Opportunity.CLOSED).order_by()
    calls = dict(open_deals.values_list("forecast_category").annotate(n=Count("pk")))
    assert calls.get("commit", 0) > 0 and calls.get("best_case", 0) > 0
    assert not Opportunity.objects.filter(stage__in=["qualify", "discovery"], forecast_category="commit").exists()
    changed = Opportunity.objects.exclude(forecast_category="pipeline")
    assert ForecastCallChange.objects.filter(via="demo").count() == changed.count()
    assert set(ForecastCallChange.objects.filter(via="demo").values_list("from_category", flat=True)) == {"pipeline"}
