# The import models moved here from clm.core: they keep the tables core.0001 created, so this
# migration changes Django's state only, and relabels their content types so that permissions
# and admin history given to them stay attached.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MODELS = ('importjob', 'importmapping')


def relabel(apps, schema_editor, old, new):
    ContentType = apps.get_model('contenttypes', 'ContentType')
    db = schema_editor.connection.alias
    if not ContentType.objects.using(db).filter(app_label=new, model__in=MODELS).exists():
        ContentType.objects.using(db).filter(app_label=old, model__in=MODELS).update(app_label=new)


def to_io(apps, schema_editor):
    relabel(apps, schema_editor, 'core', 'io')


def to_core(apps, schema_editor):
    relabel(apps, schema_editor, 'io', 'core')


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('core', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ImportJob',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(max_length=30)),
                        ('file', models.CharField(max_length=500)),
                        ('original_name', models.CharField(max_length=255)),
                        ('options', models.JSONField(default=dict)),
                        ('status', models.CharField(choices=[('queued', 'queued'), ('running', 'running'), ('done', 'done'), ('failed', 'failed')], default='queued', max_length=10)),
                        ('rows_done', models.PositiveBigIntegerField(default=0)),
                        ('bytes_total', models.PositiveBigIntegerField(default=0)),
                        ('bytes_done', models.PositiveBigIntegerField(default=0)),
                        ('report', models.JSONField(default=dict)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('created_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'core_importjob',
                    },
                ),
                migrations.CreateModel(
                    name='ImportMapping',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=100)),
                        ('kind', models.CharField(max_length=30)),
                        ('columns', models.JSONField(default=dict)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'core_importmapping',
                        'constraints': [models.UniqueConstraint(fields=('kind', 'name'), name='import_mapping_unique_name')],
                    },
                ),
            ],
            database_operations=[
                migrations.RunPython(to_io, to_core),
            ],
        ),
    ]
