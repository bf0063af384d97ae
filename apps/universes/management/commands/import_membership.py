from django.core.management.base import BaseCommand, CommandError

from apps.universes.parsers import FORMATS
from apps.universes.services import MODES, MembershipImportError, membership_import


class Command(BaseCommand):
    help = (
        "Import point-in-time index membership into a universe. Formats: fja05680 "
        "(ticker,start_date,end_date; with --changes date,add,remove applied after the file's last date) "
        "and index_constitution (symbol,name,opt-in,opt-out). All-or-nothing unless --skip-invalid."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--universe", default="sp500")
        parser.add_argument("--format", dest="fmt", choices=FORMATS, default="fja05680")
        parser.add_argument("--changes", dest="changes_path", default=None, help="fja05680 changes file")
        parser.add_argument("--mode", choices=MODES, default="replace")
        parser.add_argument(
            "--skip-invalid", action="store_true", help="leave bad rows out (recorded as rejects)"
        )

    def handle(self, *args, **opts):
        try:
            run = membership_import(
                universe_name=opts["universe"],
                path=opts["file"],
                fmt=opts["fmt"],
                changes_path=opts["changes_path"],
                mode=opts["mode"],
                skip_invalid=opts["skip_invalid"],
            )
        except MembershipImportError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{run.file_name}: {run.status}; {run.message} ({run.seconds:.2f}s)")
        for r in run.rejects[:20]:
            self.stdout.write(f"  rejected {r['file']} line {r['row']} {r['symbol']}: {r['reason']}")
