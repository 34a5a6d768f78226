from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from clm.core.models import ApiToken


class Command(BaseCommand):
    help = "Issue a personal API token for a user; the token is printed once and stored hashed."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")

    def handle(self, username, name, **options):
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user named {username!r}") from None
        _, raw = ApiToken.issue(user, name)
        self.stdout.write(raw)
