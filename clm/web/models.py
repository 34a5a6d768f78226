"""What the workspace keeps for its users: saved views of the accounts list and the lead list."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SavedView(models.Model):
    """A named set of filters and sort order on a list (its query string): the accounts list or
    the lead list; a name is unique per user and list."""

    class List(models.TextChoices):
        ACCOUNTS = "accounts", _("Accounts")
        LEADS = "leads", _("Leads")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(_("name"), max_length=100)
    query = models.CharField(max_length=2000, blank=True)
    list = models.CharField(_("list"), max_length=20, choices=List.choices, default=List.ACCOUNTS)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "list", "name"], name="saved_view_unique_name_per_list")]
        ordering = ["name"]

    def __str__(self):
        return self.name
