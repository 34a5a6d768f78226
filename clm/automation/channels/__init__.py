"""The channels CLM acts through: email, webhooks and IM robots. Each call sends at most once per
idempotency key and returns the Delivery that records what happened; call them outside any open
transaction (from a task, after the transaction that decided to send has committed)."""

from clm.automation.channels.email import send_email, send_emails
from clm.automation.channels.robots import notify_robot
from clm.automation.channels.webhooks import call_webhook

__all__ = ["call_webhook", "notify_robot", "send_email", "send_emails"]
