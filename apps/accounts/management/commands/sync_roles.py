from django.core.management.base import BaseCommand

from apps.accounts.services import roles_sync


class Command(BaseCommand):
    help = "Create the role groups and set their model permissions."

    def handle(self, *args, **options):
        for role, n in roles_sync().items():
            self.stdout.write(f"{role}: {n} permissions")
