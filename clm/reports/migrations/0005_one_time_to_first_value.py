"""Time to first value is one KPI, the onboardings' (median days from the contract start to the
first-value milestone): a target set on the usage-based KPI it replaces carries over to it for the
periods that have none, so no manager's aim is lost; the others go with the KPI."""

from django.db import migrations

REMOVED, KEPT = "time_to_first_value_days", "median_time_to_first_value_days"


def carry_targets_over(apps, schema_editor):
    KpiTarget = apps.get_model("reports", "KpiTarget")
    taken = set(KpiTarget.objects.filter(kpi=KEPT).values_list("period", flat=True))
    KpiTarget.objects.filter(kpi=REMOVED).exclude(period__in=taken).update(kpi=KEPT)
    KpiTarget.objects.filter(kpi=REMOVED).delete()


class Migration(migrations.Migration):
    dependencies = [("reports", "0004_kpi_digest")]

    operations = [migrations.RunPython(carry_targets_over, migrations.RunPython.noop)]
