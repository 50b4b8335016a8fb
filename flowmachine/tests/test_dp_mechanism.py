"""The noise of differentially private releases: OpenDP's Laplace mechanism at the scale the bound dictates."""

from __future__ import annotations

import numpy as np
import pytest

from flowmachine.core.dp.mechanism import laplace_measurement, laplace_scale, noisy_counts


@pytest.mark.parametrize(
    "sensitivity,epsilon", [(1, 0.1), (1, 1.0), (3, 0.5), (20, 2.0), (3, 10.0)]
)
def test_dp_measurement_spends_at_most_epsilon(sensitivity, epsilon):
    scale = laplace_scale(sensitivity, epsilon)
    measurement = laplace_measurement(scale)
    assert measurement.map(sensitivity) <= epsilon
    # and not much less: the scale is the smallest that keeps within epsilon (sensitivity / epsilon)
    assert scale == pytest.approx(sensitivity / epsilon, rel=1e-6)
    # a neighbour farther than the bound would cost more than epsilon
    assert measurement.map(sensitivity + 1) > epsilon


@pytest.mark.parametrize("scale_case", [(1, 0.5), (4, 1.0)])
def test_dp_noise_is_centred_with_the_laplace_spread(scale_case):
    sensitivity, epsilon = scale_case
    scale = laplace_scale(sensitivity, epsilon)
    truth = np.full(20_000, 1_000)
    errors = np.array(laplace_measurement(scale)(truth.tolist())) - truth
    # Laplace(b): mean 0, E|X| = b, sd = b * sqrt(2); the sample mean has sd b * sqrt(2 / n) (< 0.03 b here)
    assert abs(errors.mean()) < 0.05 * scale
    assert 0.9 * scale < np.abs(errors).mean() < 1.1 * scale
    assert 0.9 * scale * np.sqrt(2) < errors.std() < 1.1 * scale * np.sqrt(2)
    assert np.issubdtype(errors.dtype, np.integer)


def test_dp_noisy_counts_are_clamped_integers():
    values = noisy_counts([0] * 5_000, sensitivity=1, epsilon=0.5)
    assert all(isinstance(v, int) and v >= 0 for v in values)
    assert 0 < sum(v > 0 for v in values) < len(values)  # noise happened, negatives became 0
    assert noisy_counts([], sensitivity=1, epsilon=1.0) == []


def test_dp_scale_refuses_nonsense():
    with pytest.raises(ValueError):
        laplace_scale(0, 1.0)
    with pytest.raises(ValueError):
        laplace_scale(1, 0.0)
