from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve the web app and the API on the current data (waitress, a production WSGI server)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)

    def handle(self, host, port, threads, **options):
        from waitress import serve

        from clm.wsgi import application

        if not 0 < port < 65536:
            raise CommandError(f"--port {port} is not a TCP port (1–65535)")
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write(f"CLM is serving on http://{host}:{port}/  (admin: /admin/, API: /api/v1/docs)")
        serve(application, host=host, port=port, threads=threads, ident="CLM")
