from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.services import demo_users_create


class Command(BaseCommand):
    help = "Create one demo user per role and print their names and passwords (demo/dev settings only)."

    def add_arguments(self, parser):
        parser.add_argument("--password", help="one password for all demo users (default: a random one each)")

    def handle(self, *args, password=None, **options):
        try:
            users = demo_users_create(password=password)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("Demo users (username / password / role):")
        for u in users:
            self.stdout.write(f"  {u.username:8} {u.password:18} {u.role}")
