# ImportMapping and ImportJob now belong to clm.io (io.0001_initial), on the same tables: only
# Django's state changes here, no table is touched.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0001_initial'),
        ('io', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='ImportJob'),
                migrations.DeleteModel(name='ImportMapping'),
            ],
        ),
    ]
