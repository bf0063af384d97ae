"""Load the real demo fixtures from fixtures/ (provenance in fixtures/SOURCES.md).

Idempotent and cheap to repeat: a file whose sha256 already has a succeeded (or, for files loaded
with skip-invalid, partial) ImportRun of the same kind is skipped without being parsed, so
`make demo` restarts in seconds. Every import itself is idempotent too, so --force is safe.
"""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from apps.marketdata.models import ImportRun
from apps.universes.services import MembershipImportError, membership_files_sha256, membership_import

DONE = (ImportRun.Status.SUCCEEDED, ImportRun.Status.PARTIAL)


@dataclass(frozen=True)
class DemoFile:
    kind: str  # ImportRun.kind the import records
    path: str  # relative to fixtures/
    options: dict = field(default_factory=dict)
    changes: str | None = None  # membership only: the fja05680 changes file


# Order matters: names/sectors first, then membership, then bars.
DEMO_FILES = (
    DemoFile("instruments", "membership/gics_sector_union_datasets_history.csv"),
    DemoFile("instruments", "membership/datasets_constituents.csv"),
    DemoFile(
        "membership",
        "membership/fja05680_sp500_ticker_start_end.csv",
        {"universe_name": "sp500", "fmt": "fja05680"},
        changes="membership/fja05680_sp500_changes_since_2019.csv",
    ),
    DemoFile("bars", "hourly/spy_60min_2019_2021.csv.gz", {"freq": "1h", "source": "finfeatures"}),
    # SPY daily 2004-2021: the benchmark of daily research (excess-return labels need it).
    DemoFile(
        "bars", "daily/spy_daily_from_finfeatures_2004_2021.csv.gz", {"freq": "1d", "source": "finfeatures"}
    ),
    DemoFile(
        "bars", "hourly/aitrader_nasdaq100_60min_2025-10_11.csv.gz", {"freq": "1h", "source": "aitrader"}
    ),
    # Pooksoft before Kaggle: the two daily subsets overlap on 9 symbols x 26 sessions
    # (2018-01-02..2018-02-07) and disagree on all 234 of those bars (volume everywhere, prices on
    # 40). Pooksoft wins (fixtures/SOURCES.md says why), so it is loaded first and complete.
    DemoFile(
        "bars",
        "daily/pooksoft_subset_10sym_2018_2021_raw_adj_div_split.csv.gz",
        {"freq": "1d", "source": "pooksoft"},
    ),
    # Skip-invalid, deliberately: the real invalid row inside and the 234 bars that conflict with
    # the Pooksoft bars loaded above are skipped and recorded as rejects on the ImportRun (the
    # stored Pooksoft bars stay). Any other file that conflicts is still rejected as a whole.
    DemoFile(
        "bars",
        "daily/kaggle_5yr_subset_30sym_2013_2018.csv.gz",
        {"freq": "1d", "source": "kaggle_5yr", "skip_invalid": True},
    ),
)


def _sha256(path: Path) -> str:
    """The whole-file sha256 the importers record in ImportRun.file_sha256."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fixtures_dir() -> Path:
    return Path(settings.BASE_DIR) / "fixtures"


class Command(BaseCommand):
    help = (
        "Load the real demo fixtures (sectors, S&P 500 membership, SPY and Nasdaq-100 hourly, daily subsets)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fixtures", default=None, help="fixtures folder (default: <project>/fixtures)")
        parser.add_argument("--force", action="store_true", help="re-import files already imported")

    def handle(self, *args, **opts):
        root = Path(opts["fixtures"]) if opts["fixtures"] else fixtures_dir()
        started = time.monotonic()
        loaded = skipped = 0
        for item in DEMO_FILES:
            path = root / item.path
            changes = root / item.changes if item.changes else None
            for p in (path, changes):
                if p is not None and not p.is_file():
                    raise CommandError(f"demo fixture missing: {p} (see fixtures/SOURCES.md)")
            if item.kind == "membership":
                sha = membership_files_sha256(path=path, changes_path=changes)
            else:
                sha = _sha256(path)
            done = (
                ImportRun.objects.filter(kind=item.kind, file_sha256=sha, status__in=DONE)
                .order_by("-pk")
                .first()
            )
            if done is not None and not opts["force"]:
                skipped += 1
                self.stdout.write(
                    f"skip  {item.path}: already imported (ImportRun #{done.pk}, {done.status})"
                )
                continue
            run = self._import(item, path, changes)
            loaded += 1
            self.stdout.write(f"load  {item.path}: {self._summary(run)}")
        self.stdout.write(
            f"demo data: {loaded} file(s) loaded, {skipped} already present ({time.monotonic() - started:.1f}s)"
        )

    def _import(self, item: DemoFile, path: Path, changes: Path | None) -> ImportRun:
        if item.kind == "membership":
            try:
                return membership_import(path=path, changes_path=changes, **item.options)
            except MembershipImportError as exc:
                raise CommandError(f"{item.path}: {exc}") from exc
        before = ImportRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        out = io.StringIO()
        command = "import_instruments" if item.kind == "instruments" else "import_bars"
        try:
            call_command(command, str(path), stdout=out, **item.options)
        except CommandError as exc:
            raise CommandError(f"{item.path}: {exc}") from exc
        run = ImportRun.objects.filter(pk__gt=before, kind=item.kind).order_by("-pk").first()
        if run is None:
            raise CommandError(
                f"{item.path}: {command} recorded no ImportRun; its output was:\n{out.getvalue()}"
            )
        return run

    @staticmethod
    def _summary(run: ImportRun) -> str:
        text = (
            f"{run.status}, {run.rows_read} read, {run.rows_inserted} inserted, {run.rows_existing} existing, "
            f"{run.rows_rejected} rejected ({run.seconds:.1f}s)"
        )
        if run.reject_reasons:
            text += "; rejects: " + ", ".join(f"{k} {v}" for k, v in sorted(run.reject_reasons.items()))
        return text
