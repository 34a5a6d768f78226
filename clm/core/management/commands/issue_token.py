import datetime as dt

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from clm.core import tokens
from clm.core.models import ApiToken


class Command(BaseCommand):
    help = "Issue a personal API token for a user; the token is printed once and stored hashed."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")
        parser.add_argument(
            "--scope",
            choices=ApiToken.Scope.values,
            default=ApiToken.Scope.FULL,
            help="full (default); read: GET requests only; events: POST /events only",
        )
        parser.add_argument("--expires-days", type=int, help="stop working after this many days (default: never)")
        parser.add_argument(
            "--survive-password-change",
            action="store_true",
            help="keep the token working when the user's password changes (an integration's token)",
        )

    def handle(self, username, name, scope, expires_days, survive_password_change, **options):
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user named {username!r}") from None
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be 1 or more")
        expires_at = timezone.now() + dt.timedelta(days=expires_days) if expires_days else None
        try:
            _, raw = tokens.issue_token(
                user,
                name,
                scope=scope,
                expires_at=expires_at,
                survives_password_change=survive_password_change,
                via="cli",
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(raw)
