"""Keeps the role groups and their permissions in step after every migrate."""

from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def create_roles(sender, **kwargs):
    from clm.core.roles import CUSTOMER_APPS, sync_role_groups

    # post_migrate fires once per app, after that app's permissions exist; syncing after each of
    # ours leaves every group complete whatever the order.
    if sender.label in ("core", "demo", *CUSTOMER_APPS):
        sync_role_groups()
