"""`manage.py demo_paper_desk`: ready the demo desk's paper account (strategy demo-mean-reversion v1
in stage paper through the real lifecycle, paper account demo-paper trading it). Idempotent; what
`rundesk --demo` runs after the fixtures and the demo users. Thin: apps.live.services.demo."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from apps.live.services.demo import DemoDeskError, demo_paper_desk_ready
from apps.strategies.services import GateFailed


class Command(BaseCommand):
    help = "Create (once) the demo paper account and the demo strategy version in stage paper it trades."

    def handle(self, *args, **options) -> None:
        try:
            desk = demo_paper_desk_ready(say=self.stdout.write)
        except GateFailed as exc:  # say which gate, and where the demo desk's bar is set
            raise CommandError(
                f"the demo strategy cannot reach stage paper: {exc} (the demo desk's gates are in "
                "tradingsite/settings/demo.py: run with --settings tradingsite.settings.demo)"
            ) from exc
        except (DemoDeskError, PermissionDenied, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if not desk.created:
            self.stdout.write(f"demo paper account present: {desk.account.name} trades {desk.version}")
