from django.contrib import admin
from django.urls import include, path

from clm.api import api

urlpatterns = [
    path("", include("clm.web.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("e/", include("clm.automation.channels.urls")),
]

handler400 = "clm.core.http.bad_request"
