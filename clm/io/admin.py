from django.contrib import admin

from clm.io.models import ImportJob, ImportMapping

admin.site.register(ImportMapping)
admin.site.register(ImportJob)
