import sys

from django.core.management.base import BaseCommand, CommandError

from apps.marketdata.models import ImportRun
from apps.marketdata.services import BarFileError, bars_import
from workers.engine.market import FREQUENCIES, MARKET_TZ

SHOWN_REJECTS = 10


class _TqdmProgress:
    """One tqdm bar per stage of the import, on stderr."""

    def __init__(self) -> None:
        self.stage: str | None = None
        self.bar = None

    def __call__(self, *, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(
                total=total, desc=stage, unit="rows", unit_scale=True, file=sys.stderr, leave=True
            )
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Command(BaseCommand):
    help = (
        "Import a long-format bar file (CSV, CSV.gz or Parquet: symbol, timestamp/date, open, high, low, "
        "close, volume [, dividend_amount, split_coefficient]). Any invalid row, and any row that conflicts "
        "with a stored bar (same symbol, frequency and stamp, other prices or volume), rejects the whole "
        "file unless --skip-invalid. Every attempt is recorded as an ImportRun."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--freq", required=True, choices=FREQUENCIES)
        parser.add_argument("--source", required=True, help="vendor/source name stored on every bar")
        parser.add_argument("--tz", default=MARKET_TZ, help="time zone of the file's wall-clock stamps")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="write the valid new rows; record the invalid and conflicting ones as rejects",
        )
        parser.add_argument(
            "--progress", action="store_true", help="show a progress bar even when not on a TTY"
        )

    def handle(self, *args, **opts):
        progress = _TqdmProgress() if opts["progress"] or sys.stderr.isatty() else None
        try:
            run = bars_import(
                path=opts["file"],
                freq=opts["freq"],
                source=opts["source"],
                tz=opts["tz"],
                skip_invalid=opts["skip_invalid"],
                progress=progress,
            )
        except BarFileError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if progress:
                progress.close()
        self.stdout.write(self._summary(run))
        if run.status in (ImportRun.Status.REJECTED, ImportRun.Status.FAILED):
            raise CommandError(f"import {run.status}: {run.message}")

    def _summary(self, run: ImportRun) -> str:
        lines = [
            f"ImportRun #{run.pk} {run.status}: {run.file_name}",
            f"  rows read {run.rows_read}, valid {run.rows_valid}, rejected {run.rows_rejected}, "
            f"inserted {run.rows_inserted}, already stored {run.rows_existing} ({run.seconds:.1f} s)",
        ]
        if run.reject_reasons:
            lines.append("  rejected rows by reason:")
            lines += [
                f"    {count:>8}  {reason}"
                for reason, count in sorted(run.reject_reasons.items(), key=lambda kv: -kv[1])
            ]
            lines.append("  first rejected rows (row = data row in the file, 1 = first after the header):")
            lines += [
                f"    row {r['row']}: {r['symbol'] or '<blank>'} {r['ts']}: {r['reason']}"
                for r in run.rejects[:SHOWN_REJECTS]
            ]
        return "\n".join(lines)
