"""Model artifacts: one JSON file that is everything needed to reproduce a model's predictions.

Contents: format version, model kind, feature list (order matters), full config, sha256 of the
training arrays, training window, library versions at save time, and the model itself
(LightGBM: `booster.model_to_string()`; ridge: coefficients as float.hex). Reloading gives
bit-identical predictions. A JSON file (not pickle) so it can be stored in the database or
object store, diffed, and loaded without executing code.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .base import library_versions
from .config import LGBMConfig, ModelError, RidgeConfig
from .lgbm import LGBMModel
from .linear import RidgeModel

FORMAT = "hourglass.signal-model"
FORMAT_VERSION = 1
_KINDS = {"lgbm": (LGBMModel, LGBMConfig), "ridge": (RidgeModel, RidgeConfig)}


def model_to_dict(model: LGBMModel | RidgeModel) -> dict[str, Any]:
    if model.kind not in _KINDS:
        raise ModelError(f"cannot save a model of kind {model.kind!r}")
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": model.kind,
        "feature_names": list(model.feature_names),
        "config": model.config.to_dict(),
        "data_hash": model.data_hash,
        "train_window": model.train_window,
        "versions": library_versions(),
        "model": model.to_payload(),
    }


def model_from_dict(data: dict[str, Any]) -> LGBMModel | RidgeModel:
    if data.get("format") != FORMAT:
        raise ModelError(f"not a signal-model artifact (format={data.get('format')!r})")
    if data.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"unsupported artifact version {data.get('format_version')!r}; expected {FORMAT_VERSION}"
        )
    kind = data.get("kind")
    if kind not in _KINDS:
        raise ModelError(f"unknown model kind {kind!r} in artifact")
    cls, config_cls = _KINDS[kind]
    config = config_cls.from_dict(data["config"])
    model = cls.from_payload(data["model"], config=config, feature_names=list(data["feature_names"]))
    model.data_hash = data.get("data_hash")
    model.train_window = dict(data.get("train_window") or {})
    return model


def save_model(model: LGBMModel | RidgeModel, path: str | Path) -> Path:
    """Write the artifact atomically (temp file + rename): a crash never leaves half a model."""
    path = Path(path)
    payload = json.dumps(model_to_dict(model), sort_keys=True, allow_nan=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_model(path: str | Path) -> LGBMModel | RidgeModel:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"model artifact not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise ModelError(f"model artifact {path} is not valid JSON: {exc}") from exc
    return model_from_dict(data)


def artifact_versions(path: str | Path) -> dict[str, str]:
    """The library versions recorded at save time (to warn when they differ from the running ones)."""
    return dict(json.loads(Path(path).read_text(encoding="utf-8")).get("versions") or {})
