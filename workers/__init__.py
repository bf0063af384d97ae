"""Worker processes: the Celery app lives in workers/celery.py (`celery -A workers` finds it there)
and the compute engine in workers/engine/. This package imports nothing on purpose, so that
`workers.engine` stays free of Celery and Django."""
