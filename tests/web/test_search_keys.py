"""Pinyin search keys: computed on save through the services, filled in bulk for accounts written
without them."""

import pytest

from clm.core import services
from clm.customers.models import Account
from clm.customers.services import fill_search_keys, search_key, search_term

pytestmark = pytest.mark.django_db


def test_the_key_holds_full_pinyin_and_initials():
    assert search_key("华为技术") == "huaweijishu hwjs"


def test_latin_names_keep_their_letters_and_digits():
    assert search_key("ACME Co., Ltd. 2") == "acmecoltd2 acmecoltd2"


def test_a_query_is_normalised_like_the_keys():
    assert search_term(" Hua Wei ") == "huawei"


def test_creating_an_account_through_the_services_stores_its_key():
    account = services.create(Account, {"name": "华为"})
    account.refresh_from_db()
    assert account.search_key == "huawei hw"


def test_renaming_an_account_recomputes_its_key():
    account = services.create(Account, {"name": "华为"})
    services.update(account, {"name": "小米"})
    account.refresh_from_db()
    assert account.search_key == "xiaomi xm"


def test_accounts_written_in_bulk_get_keys_from_the_bulk_filler():
    Account.objects.bulk_create([Account(name="腾讯"), Account(name="阿里巴巴")])
    assert Account.objects.filter(search_key__isnull=True).count() == 2
    assert fill_search_keys() == 2
    assert set(Account.objects.values_list("search_key", flat=True)) == {"tengxun tx", "alibaba albb"}
    assert fill_search_keys() == 0


def test_the_demo_fills_search_keys_after_building_its_accounts():
    import datetime as dt

    from clm.demo.services import after_build

    Account.objects.bulk_create([Account(name="京东方")])  # as the simulator writes: in bulk
    after_build(dt.date(2026, 11, 1))
    assert Account.objects.get().search_key == "jingdongfang jdf"


def test_polyphonic_characters_read_as_in_the_name():
    assert search_key("重庆长安") == "chongqingchangan cqca"
