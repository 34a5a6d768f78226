"""Every model the admin lists is named in the user's language."""

from django.contrib import admin
from django.utils import translation


def test_every_admin_model_has_a_chinese_name():
    with translation.override("zh-hans"):
        untranslated = [
            model._meta.label for model in admin.site._registry
            if str(model._meta.verbose_name).isascii() or str(model._meta.verbose_name_plural).isascii()
        ]
    assert untranslated == []


def test_the_admin_index_lists_models_by_their_chinese_names(client, admin_user):
    client.force_login(admin_user)
    html = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert ">客户<" in html and ">预警信号<" in html and "Usage dailys" not in html
