"""Differentially private releases over custom geography (issue 22's units): every region of the unit is a key,
cells or not, so the published keys still do not depend on the data."""

from __future__ import annotations

import pytest
from custom_geography_fixture import STRIPS, TOWERS, unit_for

from flowmachine.core.dp.queries import DPUniqueSubscriberCounts
from flowmachine.features.utilities.subscriber_locations import SubscriberLocations

WINDOW = ("2016-03-01", "2016-03-03")


@pytest.mark.parametrize(
    "name,keys",
    [
        ("polygon-fx_strips", sorted((pcod,) for pcod in STRIPS)),  # NE holds no cell
        ("admin2+mapping", [("Z.1.1",), ("Z.1.2",), ("Z.2.3",), ("Z.2.4",)]),
        ("lon-lat+mapping", sorted(TOWERS.values())),
    ],
)
def test_dp_custom_geography_publishes_every_region(ctx, custom_geography_db, name, keys):
    q = DPUniqueSubscriberCounts(SubscriberLocations(*WINDOW, unit_for(name)), epsilon=1.0, bound=3)
    statement = q.exact_rows(ctx)
    with ctx.pool.connection() as conn:
        rows = conn.execute(statement).fetchall()
    assert sorted(tuple(r[:-1]) for r in rows) == keys
    assert sum(r[-1] for r in rows) > 0
