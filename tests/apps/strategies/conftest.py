"""Personas of the desk (quinn and quincy the quants, bob and betty the approvers, alice the
trader, victor the viewer, rita the risk officer, ada the admin), a universe, and helpers to make
strategies, versions and backtest runs (the research app's real model) for the lifecycle tests."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from apps.accounts.roles import ADMIN, APPROVER, QUANT, RISK_OFFICER, TRADER, VIEWER
from apps.accounts.services import roles_sync
from apps.strategies.config import strategy_config_validate
from apps.strategies.models import ModelVersion, Stage
from apps.strategies.services import model_version_create, strategy_create
from apps.universes.models import Universe

PERSONAS = {
    "quinn": QUANT,
    "quincy": QUANT,
    "bob": APPROVER,
    "betty": APPROVER,
    "alice": TRADER,
    "victor": VIEWER,
    "rita": RISK_OFFICER,
    "ada": ADMIN,
}

PASSING = {"sharpe": 1.4, "max_drawdown": 0.12, "n_trades": 240, "oos": True}


def make_people() -> dict:
    roles_sync()
    people = {}
    for name, role in PERSONAS.items():
        user = get_user_model().objects.create_user(name, password=f"{name}-pw")
        user.groups.add(Group.objects.get(name=role))
        people[name] = user
    return people


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Eight personas per test: the production hasher's cost would dominate the run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def people(db):
    return make_people()


@pytest.fixture
def universe(db):
    return Universe.objects.create(name="sp500", description="S&P 500")


def config(kind: str = "ma_crossover", **extra) -> dict:
    return {"kind": kind, "universe": "sp500", "frequency": "1d", **extra}


def make_strategy(owner, name: str = "quinn-ma", kind: str = "ma_crossover", **extra):
    return strategy_create(owner=owner, name=name, config=config(kind, **extra), description="test")


def make_version(strategy, by, *, stage: str = Stage.RESEARCH) -> ModelVersion:
    """A rule version (no artifact); `stage` set directly for tests that start mid-lifecycle."""
    mv = model_version_create(
        strategy=strategy,
        created_by=by,
        artifact_bytes=None,
        artifact_name="",
        training_window=None,
        data_hash="d" * 64,
        metrics={},
        config=strategy.config,
    )
    if stage != Stage.RESEARCH:
        ModelVersion.objects.filter(pk=mv.pk).update(stage=stage)
        mv.refresh_from_db()
    return mv


def make_backtest(
    strategy,
    by,
    *,
    version=None,
    status: str = "succeeded",
    metrics: dict | None = None,
    config: dict | None = None,
):
    """A finished backtest row. Its config snapshot is taken the way the research app takes it
    (the strategy's config validated with defaults filled in), so by default it is a run of the
    same config as a version made from the strategy now; pass `config` for a run of another one."""
    from apps.research.models import BacktestRun

    snapshot = strategy_config_validate(strategy.config if config is None else config).to_dict()
    return BacktestRun.objects.create(
        strategy=strategy,
        model_version=version,
        status=status,
        config=snapshot,
        seed=snapshot["seed"],
        created_by=by,
        metrics=PASSING if metrics is None else metrics,
    )
