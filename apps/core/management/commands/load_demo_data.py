from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Load the real demo fixtures (membership, sectors, SPY hourly, Nasdaq-100 hourly, a daily subset)."

    def handle(self, *args, **options):
        self.stdout.write("nothing to load yet")
