from django.db import migrations


def cache_ids(apps, schema_editor):
    """PostgreSQL: each connection draws event ids a thousand at a time. Concurrent API batches
    then get runs of consecutive ids (PendingEvents lists a batch in a row or two, not a row per
    interleaved id), and a COPY's nextval per row rarely touches the shared sequence."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE usage_usageevent ALTER COLUMN id SET CACHE 1000")


def uncache_ids(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE usage_usageevent ALTER COLUMN id SET CACHE 1")


class Migration(migrations.Migration):

    dependencies = [
        ("usage", "0007_pending_events_table"),
    ]

    operations = [
        migrations.RunPython(cache_ids, uncache_ids),
    ]
