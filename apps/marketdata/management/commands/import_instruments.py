from django.core.management.base import BaseCommand, CommandError

from apps.marketdata.models import ImportRun
from apps.marketdata.services import instruments_import_sectors


class Command(BaseCommand):
    help = (
        "Fill instrument names, GICS sectors and sub-industries from a sector history file "
        "(symbol, sector_last, sub_industry_last) or a constituents file (Symbol, Security, GICS Sector, "
        "GICS Sub-Industry); creates instruments that do not exist."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, **opts):
        run = instruments_import_sectors(path=opts["file"])
        self.stdout.write(f"ImportRun #{run.pk} {run.status}: {run.message}")
        for r in run.rejects[:10]:
            self.stdout.write(f"  row {r['row']}: {r['symbol'] or '<blank>'}: {r['reason']}")
        if run.status == ImportRun.Status.REJECTED:
            raise CommandError(run.message)
