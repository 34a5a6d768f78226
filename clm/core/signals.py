"""Creates the role groups and their permissions after every migrate."""

from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def create_roles(sender, **kwargs):
    if sender.label != "core":
        return
    from clm.core.roles import sync_role_groups

    sync_role_groups()
