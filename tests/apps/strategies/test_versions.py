"""Model versions: numbering per strategy, artifact stored under MEDIA_ROOT/artifacts with its
sha256, provenance (code version, data hash, window), and bad input refused with a clear error."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import subprocess
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from apps.strategies.config import ConfigValidationError
from apps.strategies.models import LifecycleEvent, Stage
from apps.strategies.services import StrategyError, code_version, model_version_create

from .conftest import make_strategy

pytestmark = pytest.mark.django_db

UTC = dt.UTC
WINDOW = (dt.datetime(2019, 1, 2, 15, tzinfo=UTC), dt.datetime(2023, 12, 29, 21, tzinfo=UTC))


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _create(strategy, by, **kw):
    args = {
        "strategy": strategy,
        "created_by": by,
        "artifact_bytes": b'{"model": "ridge", "coef": [0.1, -0.2]}',
        "artifact_name": "model.json",
        "training_window": WINDOW,
        "data_hash": "a" * 64,
        "metrics": {"ic": 0.031, "oos_sharpe": 1.2},
        "config": strategy.config,
    }
    return model_version_create(**{**args, **kw})


def test_versions_number_up_per_strategy_and_store_artifact(people, universe, media):
    ridge = make_strategy(people["quinn"], name="quinn-ridge", kind="ridge")
    other = make_strategy(people["quinn"], name="quinn-lgbm", kind="lgbm")
    v1 = _create(ridge, people["quinn"])
    v2 = _create(ridge, people["quinn"], artifact_bytes=b"second")
    o1 = _create(other, people["quinn"])
    assert (v1.version, v2.version, o1.version) == (1, 2, 1)
    assert v1.stage == Stage.RESEARCH
    path = Path(v1.artifact.path)
    assert path.is_relative_to(media / "artifacts" / "quinn-ridge" / "v1")
    assert path.read_bytes() == b'{"model": "ridge", "coef": [0.1, -0.2]}'
    assert v1.artifact_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (v1.train_start, v1.train_end) == WINDOW
    assert v1.config == ridge.config and v1.metrics == {"ic": 0.031, "oos_sharpe": 1.2}
    assert not LifecycleEvent.objects.exists()  # creation is not a transition


def test_code_version_is_the_git_head_or_unknown(settings, tmp_path):
    """Read once per process (cached); cleared here because others commit while tests run."""
    code_version.cache_clear()
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=django_settings.BASE_DIR, capture_output=True, text=True
    ).stdout.strip()
    assert code_version() == (head if len(head) == 40 else "unknown")
    code_version.cache_clear()
    settings.BASE_DIR = tmp_path  # not a git checkout
    assert code_version() == "unknown"
    code_version.cache_clear()


def test_rule_version_without_artifact(people, universe, media):
    rule = make_strategy(people["quinn"], name="quinn-ma")
    mv = _create(rule, people["quinn"], artifact_bytes=None, artifact_name="", training_window=None)
    assert not mv.artifact and mv.artifact_sha256 == "" and mv.train_start is None


def test_bad_input_is_refused(people, universe, media):
    ridge = make_strategy(people["quinn"], name="quinn-ridge", kind="ridge")
    with pytest.raises(StrategyError, match="needs its trained artifact"):
        _create(ridge, people["quinn"], artifact_bytes=None)
    with pytest.raises(StrategyError, match=r"metrics\.folds\[1\]\.ic is nan"):
        _create(ridge, people["quinn"], metrics={"folds": [{"ic": 0.1}, {"ic": math.nan}]})
    with pytest.raises(StrategyError, match="end must be after start"):
        _create(ridge, people["quinn"], training_window=(WINDOW[1], WINDOW[0]))
    with pytest.raises(StrategyError, match="differs from strategy"):
        _create(ridge, people["quinn"], config={**ridge.config, "kind": "lgbm", "model": {}})
    with pytest.raises(ConfigValidationError, match="model.alpha"):
        _create(ridge, people["quinn"], config={**ridge.config, "model": {"alpha": -1}})
    assert not ridge.versions.exists()


def test_admin_log_is_read_only(client, people, universe, media):
    from apps.strategies.services import promotion_request_create

    mv = _create(make_strategy(people["quinn"], name="quinn-ridge", kind="ridge"), people["quinn"])
    promotion_request_create(
        model_version=mv, to_stage=Stage.RETIRED, requested_by=people["quinn"], reason="x"
    )
    event = LifecycleEvent.objects.get()
    people["ada"].is_staff = people["ada"].is_superuser = True
    people["ada"].save()
    client.force_login(people["ada"])
    assert client.get(reverse("admin:strategies_lifecycleevent_changelist")).status_code == 200
    assert client.get(reverse("admin:strategies_lifecycleevent_add")).status_code == 403
    assert client.get(reverse("admin:strategies_lifecycleevent_delete", args=[event.pk])).status_code == 403
    # The change page only shows the row; posting changes is refused.
    assert (
        client.post(
            reverse("admin:strategies_lifecycleevent_change", args=[event.pk]), {"reason": "y"}
        ).status_code
        == 403
    )
    event.refresh_from_db()
    assert event.reason == "x"
