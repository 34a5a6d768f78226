"""The demo's lead centre: ICPs, open leads with firmographics read from their names, recent
engagement, scores with reasons, and a lookalike learned from the simulated customers."""

import pytest

from tests.demo.conftest import AS_OF

pytestmark = pytest.mark.slow


def test_the_demo_fills_the_lead_centre(company, db):
    from clm.demo import leads as demo_leads
    from clm.lifecycle import services as lifecycle
    from clm.sales.models import ICP, FitModel, Lead, LeadActivity

    lifecycle.run(AS_OF)  # CLV and stages: what the lookalike learns from
    summary = demo_leads.build(AS_OF)
    assert ICP.objects.count() == 2 and summary["activities"] == LeadActivity.objects.count() > 0
    open_leads = Lead.objects.filter(status__in=["mal", "mql", "sql"])
    assert open_leads.count() == summary["scored"] > 0
    assert not open_leads.filter(industry="").exists()  # every simulated company name tells its industry
    assert not open_leads.filter(icp_score__isnull=True).exists()
    model = FitModel.objects.first()
    if model is None:  # 250 customers over two years are few: the rules stand alone, and it says why
        assert "8 of each are needed" in summary["model"]
    else:
        assert model.report["model"]["auc"] is not None and model.report["rules"] is not None
        scored = open_leads.exclude(fit_score=None).order_by("-fit_score").first()
        assert scored.fit_reasons and 0 <= scored.fit_score <= 100
    converted = Lead.objects.filter(status="converted").select_related("account").first()
    assert converted.industry == converted.account.industry  # a customer's lead describes its account
