from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from clm.api import api

urlpatterns = [
    # The workspace UI is still to come; until then the admin is the web app.
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
