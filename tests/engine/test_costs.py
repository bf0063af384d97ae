import numpy as np
import pytest

from workers.engine.costs import CostModel, CostModelError


def test_parts_match_hand_computation():
    model = CostModel(
        slippage_bps=1.0, half_spread_bps=0.5, impact_eta=0.5, commission_per_share=0.005, commission_min=1.0
    )
    qty = np.array([1000.0, 100.0, 0.0])
    price = np.array([50.0, 50.0, 50.0])
    volume = np.array([100_000.0, 100_000.0, 100_000.0])
    sigma = np.array([0.02, 0.02, 0.02])
    parts = model.parts(qty, price, volume=volume, sigma=sigma)
    np.testing.assert_allclose(parts.slippage, [5.0, 0.5, 0.0], rtol=1e-12)
    np.testing.assert_allclose(parts.spread, [2.5, 0.25, 0.0], rtol=1e-12)
    # 50,000 x 0.5 x 0.02 x sqrt(1000 / 100,000) = 50;  5,000 x 0.5 x 0.02 x sqrt(0.001)
    np.testing.assert_allclose(parts.impact, [50.0, 5000 * 0.01 * np.sqrt(1e-3), 0.0], rtol=1e-12)
    np.testing.assert_allclose(parts.commission, [5.0, 1.0, 0.0], rtol=1e-12)  # minimum per order
    coef = model.impact_coefficient(volume, sigma)
    np.testing.assert_allclose(model.total(qty, price, coef), parts.total, rtol=1e-13)


def test_defaults_are_the_documented_ones():
    model = CostModel()
    assert (model.slippage_bps, model.half_spread_bps, model.commission_per_share) == (1.0, 0.5, 0.0)
    assert model.linear_rate == pytest.approx(1.5e-4)


def test_impact_is_square_root_in_quantity():
    model = CostModel(slippage_bps=0, half_spread_bps=0, impact_eta=1.0)
    qty = np.array([100.0, 400.0])
    parts = model.parts(
        qty, np.array([10.0, 10.0]), volume=np.array([1e4, 1e4]), sigma=np.array([0.01, 0.01])
    )
    # impact per share scales with sqrt(q): 4x the quantity -> 2x the cost per share
    per_share = parts.impact / qty
    assert per_share[1] / per_share[0] == pytest.approx(2.0, rel=1e-12)


def test_unknown_volume_or_sigma_costs_no_impact_not_nan():
    model = CostModel(impact_eta=1.0)
    coef = model.impact_coefficient(np.array([np.nan, 0.0, 1e4]), np.array([0.01, 0.01, np.nan]))
    assert np.array_equal(coef, [0.0, 0.0, 0.0])


@pytest.mark.parametrize(
    "field", ["slippage_bps", "half_spread_bps", "impact_eta", "commission_per_share", "commission_min"]
)
def test_negative_or_nan_parameters_are_rejected_by_name(field):
    with pytest.raises(CostModelError, match=field):
        CostModel(**{field: -1.0})
    with pytest.raises(CostModelError, match=field):
        CostModel(**{field: float("nan")})


def test_parts_reject_signed_quantities():
    with pytest.raises(CostModelError, match="absolute"):
        CostModel().parts(np.array([-1.0]), np.array([1.0]), volume=np.array([1.0]), sigma=np.array([0.1]))
