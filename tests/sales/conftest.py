import pytest

from clm.sales.models import ICP

MAKERS_RULES = [
    {"field": "industry", "op": "in", "value": ["制造业"], "weight": 3},
    {"field": "size_band", "op": "in", "value": ["200-999", "1000+"], "weight": 2},
    {"field": "region", "op": "in", "value": ["华东"], "weight": 1},
]


@pytest.fixture
def makers(db):
    return ICP.objects.create(key="makers", name="制造业中大型", product_line="MES", rules=MAKERS_RULES, match_at=60)


def make_lead(**fields):
    from clm.sales.models import Lead

    defaults = {"name": "王磊", "company": "苏州精工制造有限公司", "email": "wang@jinggong.cn", "industry": "制造业",
                "region": "华东", "employee_count": 300, "source_channel": "web"}
    return Lead.objects.create(**{**defaults, **fields})


@pytest.fixture(autouse=True)
def in_english():
    """Services speak the active language (the workspace's, Chinese, by default): these tests read
    the English messages; the browser walk reads the Chinese ones."""
    from django.utils import translation

    with translation.override("en"):
        yield

@pytest.fixture(autouse=True)
def built_in_pipelines(db):
    """The migration's pipelines, again: a transactional test elsewhere flushes them."""
    from clm.sales.pipelines import install_built_in

    install_built_in()
