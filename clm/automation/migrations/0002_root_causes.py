"""The root causes the seeds name (seed 000: product, service, price, business/budget), with the
two every CSM team adds: a competitor, and other."""

from django.db import migrations

ROOT_CAUSES = [
    ("product", "Product", "产品"),
    ("service", "Service", "服务"),
    ("price", "Price", "价格"),
    ("business_budget", "Business / budget", "业务/预算"),
    ("competitor", "Competitor", "竞争对手"),
    ("other", "Other", "其他"),
]


def seed(apps, schema_editor):
    RootCause = apps.get_model("automation", "RootCause")
    for position, (code, en, zh) in enumerate(ROOT_CAUSES):
        RootCause.objects.update_or_create(code=code, defaults={"name_en": en, "name_zh": zh, "position": position})


def unseed(apps, schema_editor):
    apps.get_model("automation", "RootCause").objects.filter(code__in=[c for c, _, _ in ROOT_CAUSES]).delete()


class Migration(migrations.Migration):
    dependencies = [("automation", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
