from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time each worker proved it can take a task off the broker and run it."""

    hostname = models.CharField(max_length=200, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.hostname} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"


class StreamSequence(models.Model):
    """The last sequence number published on one push stream (e.g. "account.7", "desk"): see
    apps.core.realtime.stream_publish."""

    stream = models.CharField(max_length=64, unique=True)
    seq = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.stream} #{self.seq}"
