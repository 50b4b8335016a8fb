"""Issue 21 point 2 under the differential-privacy release mode: the eight attacks that still succeed in the
default mode (integration_tests/test_attack_suite.py), run as an analyst would run them — flowclient against
FlowAPI (hypercorn, the ε ledger in FlowDB) and a FlowMachine server with FLOWMACHINE_RELEASE_MODE
=differential_privacy — with a token of a realistic role: at most ε = 1 per query, a budget of 4.

Each attack is either refused with FlowKit's error shape (a kind that is not released privately, a sampled
spec), or its best recovery from the published noisy outputs is no better than the mechanism allows: for every
target the attack estimates (every unit, OD pair or bin it could isolate, not only one), the error of the
estimate is compared with its distribution under OpenDP's Laplace noise at the scale FlowMachine derives from
its settings (sensitivity Δ from the contribution bounds, scale = `laplace_scale(Δ, ε)`), simulated from the
exact bounded counts (computed in-process with the release's own SQL). The check is one-sided where privacy is
concerned and deliberately loose: the mean absolute error must be at least a tenth of the 0.1 % quantile of its
simulated distribution (a release without noise fails; in 100,000 simulated runs of each attack none came
within 2.5 times of that bound), and at most twice the 99.9 % quantile (a sanity check of the calibration).
Averaging more draws is then shown to be impossible: the same spec (or an equivalent spelling) is the same query
id and the same answer, and new draws are charged until the ledger refuses with "Privacy budget exhausted".
QA outcomes, exact values beside the queries, are refused too.

The data are the fixture's generated days (2016-03-01..05, 400 subscribers); windows of an hour make the
targets small. The noise, and so this check, does not depend on how large a target is (clamping at 0 aside);
each attack also asserts that targets of 1–15 subscribers are among its own. The bound is per subscriber: a
group of k subscribers is protected at k·ε, so at ε = 1 a count of 5 is not hidden the way a redacted one is,
but no subscriber's presence in it shifts any outcome's probability by more than e^ε per release (e^4 over the
whole budget).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import httpx
import numpy as np
import pandas as pd
import pytest

import flowclient as fc
from flowapi.testing import (
    FlowmachineBackend,
    TokenMinter,
    serve_in_thread,
    settings_for,
    universal_scopes,
)
from flowclient import aggregates as ag
from flowclient.errors import FlowclientConnectionError
from flowdb.qa import record_default_checks
from flowmachine.core.context import Context
from flowmachine.core.dp.mechanism import laplace_scale
from flowmachine.core.server.dp_schemas import root_schema
from flowmachine.core.settings import Settings
from flowmachine.testing import server_in_thread
from flowmachine.testing import settings_for as flowmachine_settings

pytestmark = pytest.mark.filterwarnings("ignore:Communications with this server are NOT SECURE")

EPSILON = 1.0  # the role's max_epsilon_per_query; every release below spends it
BUDGET = 4.0
D1, D2, D3, D4 = "2016-03-01", "2016-03-02", "2016-03-03", "2016-03-04"
SIMULATIONS = 5000
rng = np.random.default_rng(20261207)


@dataclass(frozen=True)
class DPStack:
    url: str
    fm: Settings
    ctx: Context  # in-process, for the exact bounded counts the noise is added to
    scopes: list[str]


@pytest.fixture(scope="module")
def dp_stack(backend: FlowmachineBackend, minter: TokenMinter) -> Iterator[DPStack]:
    fm = replace(
        flowmachine_settings(backend.cluster, backend.redis_port),
        release_mode="differential_privacy",
    )
    with server_in_thread(fm) as server, Context.open(fm, repair=False) as ctx:
        settings = settings_for(backend, minter.public_key, flowmachine_port=server.settings.port)
        with serve_in_thread(settings) as url:
            spec = httpx.get(f"{url}/api/0/spec/openapi.json", timeout=30).json()
            yield DPStack(url, fm, ctx, universal_scopes(spec))


@pytest.fixture
def analyst(dp_stack: DPStack, make_token: Callable[..., str]) -> Iterator[fc.Connection]:
    """A new analyst (user and token) with every scope, at most ε 1 per query and a budget of 4."""
    token = make_token(
        # and the published boundaries (not a release: FlowAPI serves them in every mode)
        {"analyst": [*dp_stack.scopes, "admin2:geography:geography", "admin3:geography:geography"]},
        username=f"dp-attacker-{uuid.uuid4().hex[:8]}",
        privacy={"max_epsilon_per_query": EPSILON, "epsilon_budget": BUDGET},
    )
    conn = fc.connect(url=dp_stack.url, token=token)
    yield conn
    conn.close()


# --- releasing, and what the releases are made of -------------------------------------------------------


@dataclass
class Release:
    """A published noisy release and, for the test only, the exact bounded counts behind it."""

    noisy: pd.Series  # value by key
    exact: pd.Series
    scale: float
    query: fc.APIQuery


def expected_sensitivity(fm: Settings, spec: dict) -> int:
    """Δ as docs/privacy.md derives it from the settings (one subscriber's largest L1 effect)."""
    kind = spec["query_kind"]
    return {
        "spatial_aggregate": 1,
        "flows": 1,
        "histogram_aggregate": 1,
        "unique_subscriber_counts": fm.dp_max_units_per_subscriber,
        "total_network_objects": fm.dp_max_units_per_subscriber,
        "location_event_counts": fm.dp_max_events_per_subscriber,
    }[kind]


def exact_counts(stack: DPStack, spec: dict) -> tuple[pd.Series, list[str], int]:
    release = root_schema(stack.fm)().load(spec)._flowmachine_query_obj
    composed = release.exact_rows(stack.ctx)
    with stack.ctx.pool.connection() as conn:
        rows = conn.execute(composed).fetchall()
    frame = pd.DataFrame(rows, columns=release.column_names)
    keys = release.key_columns
    return frame.set_index(keys)["value"].astype(float), keys, release.sensitivity


def publish(stack: DPStack, conn: fc.Connection, specs: dict[str, dict]) -> dict[str, Release]:
    """Run every spec through FlowAPI, fetch each result (spending ε), pair it with its exact counts."""
    queries = {name: conn.make_api_query(spec) for name, spec in specs.items()}
    for query in queries.values():
        query.run()
    out = {}
    for name, query in queries.items():
        frame = query.get_result(disable_progress=True)
        exact, keys, sensitivity = exact_counts(stack, specs[name])
        assert sensitivity == expected_sensitivity(stack.fm, specs[name])
        noisy = frame.set_index(keys)["value"].astype(float)
        # every key is published whatever the data hold, and nothing else
        assert sorted(noisy.index) == sorted(exact.index), name
        assert (noisy >= 0).all()
        scale = laplace_scale(sensitivity, specs[name]["epsilon"])
        out[name] = Release(noisy.reindex(exact.index), exact, scale, query)
    return out


def spent(release: Release) -> float:
    assert release.query.privacy is not None
    return release.query.privacy.spent


# --- the attacker's error against the mechanism's -------------------------------------------------------

Estimator = Callable[[dict[str, pd.DataFrame]], pd.DataFrame]


def discrete_laplace(scale: float, shape: tuple[int, int]) -> np.ndarray:
    """OpenDP's integer Laplace noise, P(z) ∝ exp(−|z| / scale): the difference of two geometric variables."""
    p = 1 - np.exp(-1 / scale)
    return rng.geometric(p, shape) - rng.geometric(p, shape)


def assert_noise_bounds_the_attack(
    releases: dict[str, Release], estimate: Estimator, what: str
) -> pd.DataFrame:
    """The attacker's estimates (`estimate` of the published values: one row per target) err as OpenDP's noise
    at the releases' scales makes them err, never less. Returns the targets' exact values and estimates."""

    def frames(column: Callable[[Release], np.ndarray]) -> dict[str, pd.DataFrame]:
        return {name: pd.DataFrame(column(r), index=r.exact.index) for name, r in releases.items()}

    truth = estimate(frames(lambda r: r.exact.to_numpy()[:, None]))[0]
    observed = estimate(frames(lambda r: r.noisy.to_numpy()[:, None]))[0]
    simulated = estimate(
        frames(
            lambda r: np.maximum(
                0,
                r.exact.to_numpy()[:, None]
                + discrete_laplace(r.scale, (len(r.exact), SIMULATIONS)),
            )
        )
    )
    assert len(truth) >= 10, f"{what}: too few targets for a statistical check"
    mae = float((observed - truth).abs().mean())
    sim_mae = simulated.sub(truth, axis=0).abs().mean(axis=0)
    low, high = float(sim_mae.quantile(0.001)), float(sim_mae.quantile(0.999))
    assert low > 0, f"{what}: the mechanism itself would make this attack exact"
    assert mae >= 0.1 * low, f"{what}: error {mae:.3f} is below the noise's ({low:.3f}): a leak"
    assert mae <= 2 * high, f"{what}: error {mae:.3f} far above the documented noise ({high:.3f})"
    return pd.DataFrame({"truth": truth, "estimate": observed})


def some_small(targets: pd.DataFrame) -> None:
    """The attack aims at counts resting on 1–15 subscribers (what redaction cannot protect from it)."""
    assert targets.truth.between(1, 15).any(), targets.truth.describe()


def refused(conn: fc.Connection, spec: dict, words: str) -> None:
    with pytest.raises(FlowclientConnectionError) as error:
        conn.make_api_query(spec).run()
    assert words in str(error.value), str(error.value)


def daily(date: str, unit: str = "admin3") -> dict:
    return fc.daily_location_spec(date=date, aggregation_unit=unit, method="last")


def parent(pcod: str) -> str:
    return pcod.rsplit(".", 1)[0]


# --- the attacks -----------------------------------------------------------------------------------------


def test_dp_attack_overlapping_windows(dp_stack, analyst):
    """long − short window counts each unit's subscribers first seen between noon and one o'clock; then the
    attacker tries to average the noise away with more draws of the same window."""
    short, long = usc("admin3", D1 + " 12:00:00"), usc("admin3", D1 + " 13:00:00")
    got = publish(dp_stack, analyst, {"short": short, "long": long})
    assert got["long"].scale == laplace_scale(dp_stack.fm.dp_max_units_per_subscriber, EPSILON)
    some_small(
        assert_noise_bounds_the_attack(got, lambda r: r["long"] - r["short"], "long − short window")
    )

    # the same spec, even spelled differently (epsilon 1 for 1.0): the same query id, the same draw, free
    again = analyst.make_api_query({**long, "epsilon": 1})
    frame = again.get_result(disable_progress=True)
    assert again._query_id == got["long"].query._query_id  # flowclient keeps the id as FlowKit does
    assert frame.set_index("pcod")["value"].astype(float).equals(got["long"].noisy)
    assert again.privacy is not None and again.privacy.spent == 2.0
    # new draws are new releases, each charged, until the budget refuses
    for epsilon, total in ((0.99, 2.99), (0.98, 3.97)):
        redrawn = analyst.make_api_query({**long, "epsilon": epsilon})
        redrawn.get_result(disable_progress=True)
        assert redrawn.privacy is not None and redrawn.privacy.spent == pytest.approx(total)
    averaging = analyst.make_api_query({**long, "epsilon": 0.5})
    with pytest.raises(FlowclientConnectionError, match="Privacy budget exhausted"):
        averaging.get_result(
            disable_progress=True
        )  # refused at run: the first get could not be paid
    again.get_result(disable_progress=True)  # what the token has had stays free
    assert again.privacy is not None and again.privacy.spent == pytest.approx(3.97)
    refused(analyst, {**long, "epsilon": 1.5}, "above this token's limit")


def usc(unit: str, end: str, start: str = D1 + " 00:00:00") -> dict:
    """Subscribers seen in each `unit` in [start, end): small counts for an hour's difference."""
    return ag.unique_subscriber_counts_spec(
        start_date=start, end_date=end, aggregation_unit=unit, epsilon=EPSILON
    )


HOUR = (D1 + " 12:00:00", D1 + " 13:00:00")  # an hour: few subscribers per unit


def test_dp_attack_nested_units(dp_stack, analyst):
    """Each admin3 count of an hour recovered as its admin2 count minus its published siblings."""
    got = publish(
        dp_stack,
        analyst,
        {
            "admin2": usc("admin2", HOUR[1], HOUR[0]),
            "admin3": usc("admin3", HOUR[1], HOUR[0]),
        },
    )

    def siblings_out(r: dict[str, pd.DataFrame]) -> pd.DataFrame:
        admin3 = r["admin3"]
        parents = admin3.index.map(parent)
        family = admin3.groupby(parents).sum()
        return r["admin2"].reindex(parents).set_axis(admin3.index) - (
            family.reindex(parents).set_axis(admin3.index) - admin3
        )

    some_small(assert_noise_bounds_the_attack(got, siblings_out, "admin2 − Σ other admin3"))
    assert spent(got["admin3"]) == 2.0


def test_dp_attack_geography_split(dp_stack, analyst):
    """An hour's counts at lon-lat points placed in admin2 and in admin3 regions with the published boundaries: each point's count
    recovered as its region's count minus the region's other points."""
    units = ("admin2", "admin3")
    got = publish(
        dp_stack,
        analyst,
        {
            **{u: usc(u, HOUR[1], HOUR[0]) for u in units},
            "points": usc("lon-lat", HOUR[1], HOUR[0]),
        },
    )
    points = got["points"].exact.index
    regions = {u: [region_of(boxes(analyst, u), lon, lat) for lon, lat in points] for u in units}

    def others_out(r: dict[str, pd.DataFrame]) -> pd.DataFrame:
        found = {}
        for unit, region in regions.items():
            in_region = r["points"].groupby(region).sum()
            total = r[unit].reindex(region).set_axis(points)
            found[unit] = total - (in_region.reindex(region).set_axis(points) - r["points"])
        return pd.concat(found)

    some_small(assert_noise_bounds_the_attack(got, others_out, "region − Σ other points"))
    assert spent(got["points"]) == 3.0


def boxes(conn: fc.Connection, unit: str) -> dict[str, tuple[float, float, float, float]]:
    """The bounding box of every region of `unit`'s published geography (the fixture's regions are squares)."""
    found = {}
    for feature in fc.get_geography(connection=conn, aggregation_unit=unit)["features"]:
        coords: list = feature["geometry"]["coordinates"]
        while isinstance(coords[0][0], list):
            coords = [p for part in coords for p in part]
        xs, ys = [p[0] for p in coords], [p[1] for p in coords]
        found[feature["properties"]["pcod"]] = (min(xs), min(ys), max(xs), max(ys))
    return found


def region_of(regions: dict[str, tuple[float, float, float, float]], lon: float, lat: float) -> str:
    return min(p for p, (x0, y0, x1, y1) in regions.items() if x0 <= lon <= x1 and y0 <= lat <= y1)


def test_dp_attack_overlapping_categories(dp_stack, analyst):
    """The attack needs two complete `distr` releases (joined_spatial_aggregate), which are exact shares: not
    released in this mode."""
    handset = fc.handset_spec(start_date=D1, end_date=D4, characteristic="brand", method="last")
    spec = ag.joined_spatial_aggregate_spec(locations=daily(D1), metric=handset, method="distr")
    refused(analyst, spec, "releases only differentially private query kinds")


def test_dp_attack_versioned_cell_is_refused(dp_stack, analyst):
    """Cell-level units would split an admin3 square into its cells: refused as in the default mode."""
    spec = ag.spatial_aggregate_spec(locations=daily(D1, "versioned-cell"), epsilon=EPSILON)
    refused(analyst, spec, "aggregation_unit")


@pytest.fixture
def qa_outcomes(backend: FlowmachineBackend) -> Iterator[dict[str, str | None]]:
    """FlowKit's default QA outcomes of the fixture's calls on 2016-03-01, recorded as FlowETL would; removed
    afterwards."""
    with backend.cluster.connect() as conn:
        conn.autocommit = True
        outcomes = record_default_checks(conn, "calls", dt.date(2016, 3, 1))
        try:
            yield outcomes
        finally:
            conn.execute(
                "DELETE FROM etl.post_etl_queries WHERE cdr_type = 'calls' AND cdr_date = '2016-03-01'"
            )


def test_dp_qa_outcomes_are_not_served(dp_stack, make_token, qa_outcomes):
    """QA outcomes are exact (a day's subscriber count, the longest call): refused in this mode with 403 and
    FlowKit's error shape, not released outside the budget; their names are still listed."""
    assert qa_outcomes["count_msisdns"] and qa_outcomes["max_duration.calls"]
    token = make_token({"ops": ["get_qa_checks"]}, username=f"dp-qa-{uuid.uuid4().hex[:8]}")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{dp_stack.url}/api/0/qa/", headers=headers, timeout=30).status_code == 200
    for path in (
        "qa/calls/count_msisdns?start_date=2016-03-01&end_date=2016-03-01",
        "qa/calls/max_duration.calls/2016-03-01",
    ):
        response = httpx.get(f"{dp_stack.url}/api/0/{path}", headers=headers, timeout=30)
        assert response.status_code == 403, response.text
        assert response.json()["status"] == "error"
        assert "QA check outcomes are exact" in response.json()["msg"]


def test_dp_attack_summed_od_rows(dp_stack, analyst):
    """Each OD pair recovered as its origin's count minus the origin's other published flows; outflows and
    inflows are not released in this mode."""
    got = publish(
        dp_stack,
        analyst,
        {
            "flows": ag.flows_spec(from_location=daily(D1), to_location=daily(D2), epsilon=EPSILON),
            "origins": ag.spatial_aggregate_spec(locations=daily(D1), epsilon=EPSILON),
        },
    )

    def others_out(r: dict[str, pd.DataFrame]) -> pd.DataFrame:
        flows = r["flows"]
        origin = flows.index.get_level_values("pcod_from")
        from_origin = flows.groupby(origin).sum()
        total = r["origins"].reindex(origin).set_axis(flows.index)
        return total - (from_origin.reindex(origin).set_axis(flows.index) - flows)

    some_small(assert_noise_bounds_the_attack(got, others_out, "origin − Σ other flows"))
    for kind in (ag.outflows_spec, ag.inflows_spec):
        refused(
            analyst,
            kind(from_location=daily(D1), to_location=daily(D2)),
            "releases only differentially private query kinds",
        )


def test_dp_attack_histogram_bin_edges(dp_stack, analyst):
    """Shifted edges: unit bins against two-unit bins, so that every two-unit bin minus its upper unit bin
    isolates the subscribers with one event count (the 6.5/7.5 attack, at every value at once)."""
    metric = fc.event_count_spec(start_date=D1, end_date=D4)
    top = 40
    got = publish(
        dp_stack,
        analyst,
        {
            "unit": ag.histogram_aggregate_spec(
                metric=metric, bins=[k - 0.5 for k in range(0, top + 1)], epsilon=EPSILON
            ),
            "pairs": ag.histogram_aggregate_spec(
                metric=metric, bins=[k - 0.5 for k in range(0, top + 1, 2)], epsilon=EPSILON
            ),
        },
    )

    def shifted(r: dict[str, pd.DataFrame]) -> pd.DataFrame:
        unit = r["unit"].set_axis(r["unit"].index.get_level_values("lower_edge"))
        pairs = r["pairs"].set_axis(r["pairs"].index.get_level_values("lower_edge"))
        upper = unit.reindex(pairs.index + 1).set_axis(pairs.index)
        return pairs - upper  # subscribers with exactly lower_edge + 0.5 events

    some_small(assert_noise_bounds_the_attack(got, shifted, "pair bin − upper unit bin"))


@pytest.mark.parametrize(
    "sampling",
    [
        {"sampling_method": "bernoulli", "fraction": 0.9, "seed": 0.1},
        {"sampling_method": "system", "fraction": 0.9, "seed": 0.2},
        {"sampling_method": "random_ids", "size": 225, "seed": 0.5},
    ],
    ids=["seeds-bernoulli", "seeds-system", "random_ids"],
)
def test_dp_attack_sampling_is_refused(dp_stack, analyst, sampling):
    """Repeated sampling with different seeds, and random_ids samples of n and n + 1: a sample's membership
    depends on other subscribers' rows, so no sampled spec is released in this mode (at any depth)."""
    sampled = {**daily(D1), "sampling": sampling}
    refused(
        analyst,
        ag.spatial_aggregate_spec(locations=sampled, epsilon=EPSILON),
        "cannot be computed on a random sample",
    )
    refused(
        analyst,
        ag.flows_spec(from_location=daily(D1), to_location=sampled, epsilon=EPSILON),
        "cannot be computed on a random sample",
    )
