"""Serve the desk. Embedded mode (no REDIS_URL): one process runs the ASGI server, a Celery worker
thread on every queue and celery beat. With Redis, only the web server runs here."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the desk on http://HOST:PORT (PORT env or --port); embedded worker+beat without Redis."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-workers", action="store_true", help="web only, even without Redis")

    def handle(self, *args, host: str, port: int, no_workers: bool, **options):
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
