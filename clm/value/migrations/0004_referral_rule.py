"""The default referral reward (seed 003: 每成功推荐一个新客户签约……服务费减免): a service credit,
booked on the loyalty ledger as the points that redeem to it."""

from decimal import Decimal

from django.db import migrations


def seed(apps, schema_editor):
    Rule = apps.get_model("value", "ReferralRule")
    Rule.objects.update_or_create(code="signed-referral-credit", defaults={
        "kind": "service_credit", "name_en": "Service fee credit for a referred customer who signs",
        "name_zh": "推荐新客户签约，减免服务费", "credit": Decimal("500"), "position": 0,
    })


class Migration(migrations.Migration):
    dependencies = [("value", "0003_referrals")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
