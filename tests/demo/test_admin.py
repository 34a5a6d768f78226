"""The simulator's ground truth is shown in the admin and cannot be changed there."""

import pytest

from clm.customers.models import Account
from clm.demo.models import TrueState

pytestmark = pytest.mark.django_db


def test_the_ground_truth_is_read_only_in_the_admin(client, admin_user):
    truth = TrueState.objects.create(account=Account.objects.create(name="云帆"), archetype="loyal", seed=7)
    client.force_login(admin_user)
    assert client.get("/admin/demo/truestate/").status_code == 200
    page = client.get(f"/admin/demo/truestate/{truth.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.post(f"/admin/demo/truestate/{truth.pk}/change/", {"archetype": "churner", "seed": 7}).status_code == 403
    assert client.get("/admin/demo/truestate/add/").status_code == 403
    assert client.post(f"/admin/demo/truestate/{truth.pk}/delete/", {"post": "yes"}).status_code == 403
    truth.refresh_from_db()
    assert truth.archetype == "loyal"
