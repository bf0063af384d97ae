"""Serve the desk. Embedded mode (no REDIS_URL): one process runs the ASGI server, a Celery worker
thread on every queue and celery beat. With Redis, only the web server runs here.

`--demo` (what `make demo` runs) first readies the demo database in the same process: `migrate`
only when a migration is unapplied, the demo fixtures (each file skipped by its sha256 when already
imported, see load_demo_data), the demo users when one is missing. A second `make demo` then costs
one interpreter start instead of four (migrate, load_demo_data, create_demo_users and rundesk each
paid ~4 s of imports and checks, and create_demo_users re-hashed six passwords: 22 s in all). Then
the demo paper account (`demo_paper_desk`, created once) and the replay clock: the demo settings
(tradingsite/settings/demo.py, which `make demo` passes) replay the hourly fixture, one bar every
REPLAY_SECONDS_PER_BAR seconds, from the bar after the account's last cycle; the embedded beat
runs the cycle of every accelerated hour. The replay's start lives in this process, so the demo
runs embedded (no REDIS_URL)."""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from apps.accounts.services import DEMO_PERSONAS
from apps.live.clock import replay_mode, replay_stamps, replay_start


def unapplied_migrations() -> int:
    """How many migrations `migrate` would apply to the default database."""
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


class Command(BaseCommand):
    help = (
        "Serve the desk on http://HOST:PORT (PORT env or --port); embedded worker+beat without Redis. "
        "--demo: migrate if needed, load the demo fixtures and create the demo users first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-workers", action="store_true", help="web only, even without Redis")
        parser.add_argument(
            "--demo", action="store_true", help="ready the demo database (migrate, fixtures, users) first"
        )

    def handle(self, *args, host: str, port: int, no_workers: bool, demo: bool, **options):
        if demo:
            if not replay_mode() or not settings.CELERY_EMBEDDED or no_workers:
                raise CommandError(
                    "rundesk --demo trades the demo paper account on the replay clock in this process: "
                    "run it with --settings tradingsite.settings.demo (make demo does), without "
                    "REDIS_URL and without --no-workers"
                )
            self._demo_ready()
            self._replay_start()
        from daphne.cli import CommandLineInterface

        from workers.celery import app
        from workers.embedded import start_embedded_beat, start_embedded_worker

        if settings.CELERY_EMBEDDED and not no_workers:
            start_embedded_worker(app, queues=settings.CELERY_TASK_QUEUES_NAMES)
            start_embedded_beat(app)
            mode = "embedded: in-process worker + beat, in-memory broker and channel layer"
        else:
            mode = "web only: run `celery -A workers worker` and `celery -A workers beat` beside it"
        db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        self.stdout.write(
            self.style.SUCCESS(f"Hourglass desk on http://{host}:{port}/  ({mode}; database: {db})")
        )
        CommandLineInterface().run(
            ["-b", host, "-p", str(port), "--proxy-headers", "tradingsite.asgi:application"]
        )

    def _demo_ready(self) -> None:
        pending = unapplied_migrations()
        if pending:
            self.stdout.write(f"migrate: {pending} unapplied migration(s)")
            call_command("migrate", interactive=False, verbosity=0)
        else:
            self.stdout.write("migrate: the database is up to date")
        call_command("load_demo_data", stdout=self.stdout)
        names = list(DEMO_PERSONAS.values())
        present = get_user_model().objects.filter(username__in=names).count()
        if present < len(names):
            call_command("create_demo_users", stdout=self.stdout)
        else:
            # Resetting would re-hash six passwords (seconds of CPU) on every start.
            self.stdout.write(
                f"demo users present: {', '.join(names)} (password <name>-hourglass; "
                "`manage.py create_demo_users` resets them)"
            )
        call_command("demo_paper_desk", stdout=self.stdout)

    def _replay_start(self) -> None:
        from apps.live.services.demo import DEMO_ACCOUNT, demo_replay_first_index
        from apps.trading.models import TradingAccount

        account = TradingAccount.objects.get(name=DEMO_ACCOUNT)
        first = demo_replay_first_index(account=account)
        stamps = replay_stamps()
        replay_start(first_index=first)
        if account.cycles.filter(bar_time=stamps[-1]).exists():
            self.stdout.write(
                f"replay: ended at its last bar ({stamps[-1]:%Y-%m-%d %H:%M} UTC), {DEMO_ACCOUNT} trades no "
                "more (`make clean` starts the demo over)"
            )
            return
        self.stdout.write(
            f"replay: bar {first + 1} of {len(stamps)} ({stamps[first]:%Y-%m-%d %H:%M} UTC), one bar every "
            f"{settings.REPLAY_SECONDS_PER_BAR:g} s; {DEMO_ACCOUNT} trades each accelerated hour"
        )
