from celery import shared_task

from .services import worker_heartbeat_record


@shared_task(bind=True, ignore_result=True, soft_time_limit=20, time_limit=30)
def worker_heartbeat(self) -> None:
    """Proves broker -> worker -> database works end to end; /healthz reads the row."""
    worker_heartbeat_record(hostname=self.request.hostname or "unknown")
