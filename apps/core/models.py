from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time each worker proved it can take a task off the broker and run it."""

    hostname = models.CharField(max_length=200, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.hostname} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"
