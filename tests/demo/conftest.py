"""One demo company per test module, built once into the test database and removed afterwards
(with the staff users it created, so other modules' named-user fixtures start clean)."""

import datetime as dt

import pytest
from django.db import transaction
from django.test import override_settings

AS_OF = dt.date(2025, 6, 30)


def remove_company():
    """The demo company and what `clm demo` writes beside it (the configuration rows of
    clm.demo.services.write_configuration, the audit of the playbooks it turns on), so that later
    tests start from an empty database."""
    from clm.automation.models import Playbook
    from clm.core.models import AuditLog, Team, User, Workspace
    from clm.demo import names, writer
    from clm.lifecycle.models import BacktestResult, ChurnModel, HealthModel, RuleSet
    from clm.reports.models import KpiTarget, Snapshot
    from clm.sales.models import ICP, ApprovalRule, AssignmentRule, LeadScoring, Pipeline
    from clm.sales.pipelines import install_built_in
    from clm.service.models import FeedbackForm, FeedbackRule, Survey
    from clm.success.models import ActivationDefinition
    from clm.value.models import TierBenefit, TierRule

    with transaction.atomic():
        writer.wipe()
        for model in (
            Workspace, HealthModel, RuleSet, TierRule, TierBenefit, ChurnModel, BacktestResult, KpiTarget, Snapshot,
            ActivationDefinition, Playbook, ApprovalRule, AssignmentRule, ICP, LeadScoring, FeedbackRule, FeedbackForm,
            Survey, Pipeline, AuditLog,
        ):  # fmt: skip
            model.objects.all().delete()  # the configuration the demo wrote, which a wipe keeps
        # after the configuration: an approval rule's approver is protected while the rule exists
        User.objects.filter(username__regex=r"^((sales|csm|marketing|viewer|manager)\d{2,}|admin)$").delete()
        Team.objects.filter(name__in=[*names.SALES_TEAMS, *names.CSM_TEAMS]).delete()
        install_built_in()  # the migration's pipelines, without the demo's required fields


@pytest.fixture(scope="module")
def company(django_db_setup, django_db_blocker):
    """250 accounts over 24 months, seed 7, as of 2025-06-30."""
    from clm.demo.simulator import simulate

    fast = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]
    )  # as in tests
    with django_db_blocker.unblock(), fast:
        result = simulate(250, 24, 7, AS_OF, wipe=True)
        try:
            yield result
        finally:
            remove_company()
