"""Model versions: one row per trained (or parameterised) version with its provenance."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import subprocess
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max

from .. import permissions
from ..config import strategy_config_validate
from ..errors import StrategyError
from ..models import ModelVersion, Stage, Strategy
from ..registry import strategy_spec


@functools.cache
def code_version() -> str:
    """The git commit of the running code, read once per process; "unknown" outside a checkout
    (e.g. a docker image without .git) rather than failing the job that asked."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    sha = out.stdout.strip()
    return sha if len(sha) == 40 else "unknown"


def _check_finite(value: Any, path: str) -> None:
    """JSON has no NaN: a NaN metric would be stored as something else or fail later."""
    if isinstance(value, float) and not math.isfinite(value):
        raise StrategyError(f"metrics.{path} is {value!r}; metrics must be finite numbers")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_finite(v, f"{path}[{i}]")


@transaction.atomic
def model_version_create(
    *,
    strategy: Strategy,
    created_by,
    artifact_bytes: bytes | None,
    artifact_name: str,
    training_window: tuple[dt.datetime, dt.datetime] | None,
    data_hash: str,
    metrics: dict[str, Any],
    config: dict[str, Any],
) -> ModelVersion:
    """Record a new version (stage research) with the next version number of its strategy.

    Permission first: `created_by` (the person recording it, or whoever submitted the training
    run) must be able to edit the strategy now. The strategy row is locked while the number is allocated so two jobs finishing together get
    distinct numbers. Learned kinds must come with their artifact; rule kinds may have none.
    """
    if not permissions.can_edit(created_by, strategy):
        raise PermissionDenied(f"{created_by} may not record versions of {strategy.name}")
    cfg = strategy_config_validate(config)
    if cfg.kind != strategy.kind:
        raise StrategyError(
            f"config kind {cfg.kind!r} differs from strategy {strategy.name}'s kind {strategy.kind!r}"
        )
    spec = strategy_spec(cfg.kind)
    if spec.trains and not artifact_bytes:
        raise StrategyError(f"a {spec.label} version needs its trained artifact (artifact_bytes is empty)")
    if artifact_bytes and not artifact_name:
        raise StrategyError("artifact_name is required with artifact_bytes")
    if not isinstance(metrics, dict):
        raise StrategyError(f"metrics must be a dict, got {type(metrics).__name__}")
    _check_finite(metrics, "")
    start = end = None
    if training_window is not None:
        start, end = training_window
        if start is None or end is None or end <= start:
            raise StrategyError(f"training_window end must be after start, got {start} .. {end}")

    Strategy.objects.select_for_update().filter(pk=strategy.pk).first()
    last = ModelVersion.objects.filter(strategy=strategy).aggregate(m=Max("version"))["m"] or 0
    mv = ModelVersion(
        strategy=strategy,
        version=last + 1,
        stage=Stage.RESEARCH,
        train_start=start,
        train_end=end,
        data_hash=data_hash,
        code_version=code_version(),
        metrics=metrics,
        config=cfg.to_dict(),
        created_by=created_by,
    )
    if artifact_bytes:
        mv.artifact_sha256 = hashlib.sha256(artifact_bytes).hexdigest()
        mv.artifact.save(artifact_name, ContentFile(artifact_bytes), save=False)
    mv.save()
    return mv


def rule_version_record(*, strategy: Strategy, by) -> ModelVersion:
    """Record the strategy's current config as a version of a rule strategy (ma_crossover,
    momentum, mean_reversion): its parameters are the config's `model` section, there is nothing
    to train and no artifact, so the version can go through the lifecycle like a trained one. The
    config snapshot is the validated config with defaults filled in, exactly what a backtest of
    the strategy snapshots, so a backtest of the same config is evidence for this version."""
    if not permissions.can_edit(by, strategy):
        raise PermissionDenied(f"{by} may not record versions of {strategy.name}")
    spec = strategy_spec(strategy.kind)
    if spec.trains:
        raise StrategyError(f"a {spec.label} version comes from a training run, not from its config")
    cfg = strategy_config_validate(strategy.config)
    return model_version_create(
        strategy=strategy,
        created_by=by,
        artifact_bytes=None,
        artifact_name="",
        training_window=None,
        data_hash="",
        metrics={},
        config=cfg.to_dict(),
    )
