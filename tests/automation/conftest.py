"""Playbook fixtures: accounts with owners, a tag library, and a helper that saves a playbook."""

import pytest

from clm.customers.models import Account, Tag, TagCategory


@pytest.fixture
def accounts(owner, csm):
    rows = [
        Account(
            name=f"客户{i}",
            industry="制造业" if i % 2 else "零售",
            employee_count=50 + i,
            sales_owner=owner,
            csm=csm,
        )
        for i in range(10)
    ]
    return Account.objects.bulk_create(rows)


@pytest.fixture
def tags(db):
    category = TagCategory.objects.create(name="挽回")
    return {value: Tag.objects.create(category=category, value=value) for value in ("进行中", "成功")}


def playbook_doc(key="test-play", *, trigger=None, steps=None, conditions=None, exit=None, **extra):
    return {
        "key": key,
        "name": {"zh": "测试", "en": "Test"},
        "active": True,
        "definition": {
            "trigger": trigger or {"type": "manual"},
            "conditions": conditions,
            "exit": exit,
            "steps": steps or [{"id": "points", "type": "loyalty_points", "points": 10}],
        },
        **extra,
    }


@pytest.fixture
def save(admin_user):
    from clm.automation.playbooks import services

    def save(doc):
        return services.save_document(doc, actor=admin_user)[0]

    return save
