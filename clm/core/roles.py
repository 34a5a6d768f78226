"""The roles as Django groups, with the model permissions each one holds."""

from django.contrib.auth.models import Group, Permission

from clm.core.models import Role

CUSTOMER_APPS = ("customers", "commerce", "usage", "service", "sales", "lifecycle", "value", "automation", "reports", "success")

# (app_label, model) -> actions beyond "view", per role. Every role can view customer data.
EDITS = {
    # a team lead: sees every account (clm.core.access), edits the record and gives accounts out
    Role.MANAGER: {
        "customers": ["account", "contact", "interaction", "tag", "tagcategory"],
        "commerce": ["subscription", "subscriptionchange", "order", "orderline", "payment", "coupon",
                     "couponredemption"],
        "sales": [
            "lead", "opportunity", "opportunitystagechange", "channelspend", "formsubmission",
            "pipeline", "pipelinestage", "quote", "quoteline", "approval", "approvalrule", "talktrack",
            "talktrackuse", "icp", "leadscoring", "assignmentrule", "leadactivity", "leadstagechange",
        ],
        "service": ["ticket", "surveyresponse", "survey", "surveyinvitation", "feedbackform", "feedbackrule",
                    "feedbacksubmission"],
        "usage": ["usageevent"],
        "value": ["loyaltyentry", "recommendation", "referralcode", "referral", "referralreward", "tierbenefit"],
        # and configures the channels playbooks send through
        "automation": ["task", "case", "winback", "emailtemplate", "emailtemplatevariant", "webhookendpoint", "robot"],
        "reports": ["kpitarget"],
        # and the activation definitions new customers are onboarded by
        "success": ["activationdefinition", "activationmilestone", "onboarding", "onboardingstep", "successplan",
                    "objective", "planmilestone", "qbr", "valueboardlink"],
    },
    # the tag library (tags and their categories) is kept by managers, marketing and admins: a
    # renamed or deleted tag changes every account that carries it; reps and CSMs apply tags
    Role.SALES: {
        "customers": ["account", "contact", "interaction"],
        "commerce": ["subscription", "subscriptionchange", "order", "orderline", "payment", "couponredemption"],
        "sales": [
            "lead", "opportunity", "opportunitystagechange", "quote", "quoteline", "talktrackuse", "leadactivity",
            "leadstagechange",
        ],
        "service": ["surveyinvitation"],
        "value": ["loyaltyentry", "recommendation", "referralcode", "referral", "referralreward"],
        "automation": ["task", "case", "winback"],
        "success": ["onboarding", "onboardingstep", "successplan", "objective", "planmilestone", "qbr", "valueboardlink"],
    },
    Role.CSM: {
        "customers": ["account", "contact", "interaction"],
        "service": ["ticket", "surveyresponse", "surveyinvitation", "feedbacksubmission"],
        "usage": ["usageevent"],
        "value": ["loyaltyentry", "recommendation", "referralcode", "referral", "referralreward"],
        "automation": ["task", "case", "winback"],
        "success": ["onboarding", "onboardingstep", "successplan", "objective", "planmilestone", "qbr", "valueboardlink"],
    },
    Role.MARKETING: {
        "customers": ["contact", "tag", "tagcategory"],
        "commerce": ["coupon"],
        "sales": ["lead", "channelspend", "formsubmission", "icp", "leadscoring", "leadactivity", "leadstagechange"],
        "service": ["surveyresponse", "survey", "surveyinvitation", "feedbackform", "feedbackrule"],
        "value": ["referralcode", "referral"],
        "automation": ["task"],
    },
    Role.VIEWER: {},
}


def sync_role_groups() -> None:
    perms = Permission.objects.select_related("content_type")
    by_app = {}
    for perm in perms:
        by_app.setdefault(perm.content_type.app_label, []).append(perm)

    admin, _ = Group.objects.get_or_create(name=Role.ADMIN)
    admin.permissions.set([p for app in (*CUSTOMER_APPS, "core", "demo") for p in by_app.get(app, [])])

    for role, edits in EDITS.items():
        group, _ = Group.objects.get_or_create(name=role)
        granted = []
        for app in CUSTOMER_APPS:
            for perm in by_app.get(app, []):
                action, _, model = perm.codename.partition("_")
                if action == "view" or model in edits.get(app, ()):
                    granted.append(perm)
        group.permissions.set(granted)
