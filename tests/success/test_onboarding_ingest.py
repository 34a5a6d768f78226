"""Events sent to the API complete onboarding milestones: the ingestion announces them, the
success listener queues the job that counts the rollups and completes what usage reached."""

import pytest

from clm.success import onboarding
from clm.success.models import Onboarding
from tests.factories import make_account, make_user, new_subscription
from tests.success.conftest import STANDARD, days_ago, make_definition

pytestmark = pytest.mark.django_db(transaction=True)


def test_events_sent_to_the_api_complete_the_first_value_milestone(api_as):
    from clm.usage.models import Feature

    Feature.objects.create(key="approval_flow", is_core=True)
    admin = make_user("admin", "Admin", is_staff=True, is_superuser=True)
    account = make_account("云帆科技")
    make_definition("Everyone", STANDARD[:1])
    new_subscription(account, days_ago(3), 1000)
    o = onboarding.start_onboarding(None, account)
    response = api_as(admin).post("/events", {"events": [{
        "account": account.pk, "event": "approval.submit", "feature": "approval_flow", "user_id": "u9",
        "timestamp": f"{days_ago(1)}T10:00:00+08:00", "idempotency_key": "e1"}]})
    assert response.status_code == 200, response.content
    assert response.json_body["stored"] == 1
    o = Onboarding.objects.get(pk=o.pk)
    assert (o.status, o.first_value_on, o.activated_on) == ("activated", days_ago(1), days_ago(1))
