"""The library of win-back offers per root cause (seed 000: 产品问题 → training and a roadmap call,
服务问题 → a service review, 业务问题/price → a discount within approval limits), each carried out
by its tasks; administrators change or add to it."""

from decimal import Decimal

from django.db import migrations

OFFERS = [
    ("product-training", "training", "Product training", "产品培训", ["product", "service"], None, None, [
        ("Agree a training date with the customer's users", "与客户的使用者约定培训时间", 3),
        ("Run the training and send the materials", "完成培训并发送培训资料", 14),
    ]),
    ("service-review", "service_review", "Service review", "服务复盘", ["service", "other"], None, None, [
        ("Review the tickets and service record of the last 90 days", "复盘近90天的工单与服务记录", 3),
        ("Present the service improvement plan to the customer", "向客户说明服务改进方案", 10),
    ]),
    ("renewal-discount", "discount", "Renewal discount", "续约折扣",
     ["price", "business_budget", "competitor"], Decimal("10"), Decimal("30"), [
        ("Send the renewal quote with the discount", "发送含折扣的续约报价", 3),
        ("Follow up on the quote", "跟进报价反馈", 10),
    ]),
    ("roadmap-call", "roadmap_call", "Product roadmap call", "产品路线图沟通", ["product", "competitor"], None, None, [
        ("Arrange a call with the product manager about the roadmap", "安排产品经理与客户沟通产品路线图", 5),
        ("Send the roadmap items that answer the customer's needs", "向客户发送与其需求相关的路线图事项", 12),
    ]),
    ("budget-plan", "other", "Smaller plan for a tighter budget", "预算调整方案", ["business_budget"], None, None, [
        ("Propose a plan that fits the customer's budget", "提出符合客户预算的方案", 5),
    ]),
]


def seed(apps, schema_editor):
    Offer = apps.get_model("automation", "WinBackOffer")
    RootCause = apps.get_model("automation", "RootCause")
    for position, (code, kind, en, zh, causes, limit, largest, tasks) in enumerate(OFFERS):
        offer, _ = Offer.objects.update_or_create(code=code, defaults={
            "kind": kind, "name_en": en, "name_zh": zh, "position": position,
            "approval_limit_percent": limit, "max_percent": largest,
            "tasks": [{"en": t_en, "zh": t_zh, "days": days} for t_en, t_zh, days in tasks],
        })
        offer.causes.set(RootCause.objects.filter(code__in=causes))


class Migration(migrations.Migration):
    dependencies = [("automation", "0005_winback")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
