"""The automation app's jobs on the task queue: playbook enrollments from events, step executions,
a sweep that queues due steps again (a lost message, a worker killed mid-step), and the daily digest."""

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from clm.automation import surveys
from clm.automation.digest import send_daily_digests
from clm.automation.playbooks import dispatch, engine


@db_task(retries=3, retry_delay=10)
def enroll_from_event(playbook_id: int, event_name: str, payload: dict):
    return [e.pk for e in dispatch.enroll_from_event(playbook_id, event_name, payload)]


@db_task()
def run_steps(step_run_ids: list[int]):
    return [engine.run_step(pk) for pk in step_run_ids]


@db_task()
def release_steps(step_run_ids: list[int]):
    """At the end of a wait: its steps on the queue, in chunks the workers share."""
    engine.queue_now(step_run_ids)


@db_periodic_task(crontab(minute="*"))
@HUEY.lock_task("playbook-sweep")
def sweep_due_steps():
    return engine.sweep()


@db_periodic_task(crontab(minute="5"))
@HUEY.lock_task("automation-daily-digest")
def daily_digest_hourly():
    """Hourly, so each user's digest goes out soon after 07:00 in their own time zone."""
    return send_daily_digests()


@db_task(retries=3, retry_delay=60)
def send_notice(subject: str, body: str, to: list[str]):
    """A plain notice to people of the team (an approver, a quote's author), off the request."""
    from django.core.mail import send_mail

    return send_mail(subject, body, None, to)
@db_task(retries=3, retry_delay=30)
def survey_closed_ticket(ticket_id: int):
    invitation = surveys.survey_closed_ticket(ticket_id)
    return invitation.pk if invitation else None


@db_task(retries=3, retry_delay=30)
def reply_to_feedback(submission_id: int):
    return surveys.reply_to_feedback(submission_id)


@db_periodic_task(crontab(minute="20"))
@HUEY.lock_task("automation-survey-reminders")
def survey_reminders_hourly():
    """The one reminder to survey invitations unanswered after their survey's reminder days."""
    return surveys.send_reminders()
