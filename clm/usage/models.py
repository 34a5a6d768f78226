"""Product usage: raw events (pruned after the retention age) and daily rollups (kept forever)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from clm.customers.models import Account, Contact


class Feature(models.Model):
    """A product feature that events name; core features drive adoption and health."""

    key = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200, blank=True)
    is_core = models.BooleanField(_("core feature"), default=False)

    def __str__(self):
        return self.name or self.key

    class Meta:
        verbose_name = _("feature")
        verbose_name_plural = _("features")


class UsageEvent(models.Model):
    """A raw product event. The table takes millions of rows a day, so it carries no foreign-key
    constraints in the database (checking them costs PostgreSQL more than the insert itself):
    clm.usage.services.store_events, the one way events are stored, stores only events of accounts
    (and contacts of those accounts) it has resolved, and Django carries out the CASCADE and
    SET_NULL below when an account or contact is deleted. Columns have defaults in the database
    too, so a batch whose rows all have the default leaves the column out (most event exports
    carry no quantity or properties)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False, db_constraint=False
    )
    user_key = models.CharField(max_length=100, blank=True, db_default="", help_text="the product's user id")
    event = models.CharField(max_length=100)
    feature = models.CharField(max_length=100, blank=True, db_default="")
    occurred_at = models.DateTimeField()
    quantity = models.FloatField(default=1, db_default=1.0)
    duration_seconds = models.FloatField(default=0, db_default=0.0)
    properties = models.JSONField(default=dict, blank=True, db_default=models.Value({}, models.JSONField()))
    # Collated "C" on PostgreSQL (migration usage/0005): keys are opaque, compared as bytes.
    idempotency_key = models.CharField(max_length=100)

    class Meta:
        verbose_name = _("usage event")
        verbose_name_plural = _("usage events")
        # One index serves deduplication, per-account reads and deletes; a second one on time would
        # cost a third of the ingestion rate. Analytics read the rollups, not raw events.
        constraints = [
            models.UniqueConstraint(fields=["account", "idempotency_key"], name="usage_event_unique_key")
        ]
        # Deleting a contact finds its events here (most events name no contact: a small index).
        indexes = [
            models.Index(fields=["contact"], condition=models.Q(contact__isnull=False), name="usage_event_contact"),
        ]


class PendingEvents(models.Model):
    """A run of event ids, first_id to last_id, stored by the API and not yet counted in the
    rollups: the rollup job counts its events and deletes the row. A table of its own, so
    counting never rewrites the events: a flag on them (in a partial index's condition) made
    PostgreSQL write every event again with all its index entries, and the job ran at a third of
    the API's rate. Runs, not single ids: a batch of a thousand events is one row, mostly. An id
    in a run may name no event (drawn for an event the batch repeated, or deleted since)."""

    first_id = models.BigIntegerField(primary_key=True)
    last_id = models.BigIntegerField()


class UsageDaily(models.Model):
    """Per account and day: events, distinct active users, active minutes. Maintained as events arrive.

    The rollup tables, like the events table, carry no foreign-key constraint in the database:
    PostgreSQL checks deferred ones at commit, one lookup per row, which made an import's commit
    wait a second per million events. Only clm.usage.services writes them, for accounts it has
    resolved, and Django carries out the CASCADE when an account is deleted."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    day = models.DateField()
    events = models.PositiveIntegerField(default=0)
    active_users = models.PositiveIntegerField(default=0)
    minutes = models.FloatField(default=0)

    class Meta:
        verbose_name = _("daily usage")
        verbose_name_plural = _("daily usage")
        constraints = [models.UniqueConstraint(fields=["account", "day"], name="usage_daily_unique")]


class UsageFeatureDaily(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    day = models.DateField()
    feature = models.CharField(max_length=100)
    events = models.PositiveIntegerField(default=0)
    minutes = models.FloatField(default=0)

    class Meta:
        verbose_name = _("daily feature usage")
        verbose_name_plural = _("daily feature usage")
        constraints = [models.UniqueConstraint(fields=["account", "day", "feature"], name="usage_feature_daily_unique")]


class UsageDailyUser(models.Model):
    """Who was active on a day: the set behind UsageDaily.active_users, kept so distinct counts
    stay exact when events for the same day arrive in several batches."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    day = models.DateField()
    user_key = models.CharField(max_length=100)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "day", "user_key"], name="usage_daily_user_unique")]
