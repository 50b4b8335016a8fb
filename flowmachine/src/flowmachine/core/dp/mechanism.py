"""The noise of a differentially private release: OpenDP's Laplace mechanism over a vector of integer counts.

A release is a vector of counts, one per published key, whose L1 distance between neighbouring datasets (one
subscriber's records added or removed) is at most `sensitivity`: the contribution bounding done in SQL before
the counts are taken guarantees it (`flowmachine.core.dp.queries`). OpenDP's `make_laplace` over integer
vectors (the discrete Laplace mechanism) then gives epsilon-DP with scale sensitivity / epsilon; the scale is
found with OpenDP's own `binary_search_param`, so the measurement's privacy map at `sensitivity` is at most
epsilon (never above it by a rounding). Rounding is not needed (the noise is integer) and clamping at 0 is
post-processing, which costs no privacy.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import opendp.prelude as dp

dp.enable_features("contrib")


def _space() -> tuple[Any, Any]:
    return dp.vector_domain(dp.atom_domain(T=dp.i64)), dp.l1_distance(T=dp.i64)


def laplace_measurement(scale: float) -> Any:
    """OpenDP's Laplace measurement over integer vectors with the L1 distance, at `scale`."""
    return dp.m.make_laplace(*_space(), scale=scale)


@lru_cache(maxsize=256)
def laplace_scale(sensitivity: int, epsilon: float) -> float:
    """The smallest scale whose measurement spends at most `epsilon` on inputs `sensitivity` apart (L1)."""
    if sensitivity < 1 or not epsilon > 0:
        raise ValueError("sensitivity must be at least 1 and epsilon positive")
    return float(
        dp.binary_search_param(
            laplace_measurement, d_in=int(sensitivity), d_out=float(epsilon), T=float
        )
    )


def noisy_counts(counts: Sequence[int], *, sensitivity: int, epsilon: float) -> list[int]:
    """The counts with discrete Laplace noise at `laplace_scale(sensitivity, epsilon)`, clamped at 0."""
    if not counts:
        return []
    measurement = laplace_measurement(laplace_scale(sensitivity, epsilon))
    return [max(0, int(v)) for v in measurement([int(c) for c in counts])]
