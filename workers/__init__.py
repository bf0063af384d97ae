"""Worker processes: the Celery app (`celery -A workers worker|beat`) and the compute engine."""

from .celery import app

__all__ = ["app"]
