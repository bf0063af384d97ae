"""The top features of a model are its most important ones, not the first in catalogue order."""

from workers.engine.models import top_features


def test_top_features_ranks_by_importance_then_name():
    importance = {"ret_1": 0.1, "ret_5": 3.0, "rsi_14": 0.5, "vol_20": 3.0, "dist_ma_20": 2.0}
    assert list(top_features(importance, n=3).items()) == [
        ("ret_5", 3.0),
        ("vol_20", 3.0),
        ("dist_ma_20", 2.0),
    ]
    assert top_features(importance, n=10) == dict(sorted(importance.items(), key=lambda kv: (-kv[1], kv[0])))
