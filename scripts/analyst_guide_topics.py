"""The worked sections of docs/analyst-guide.md ("Your own geography", "Rolling windows and weekly totals"): prose,
flowclient snippets that scripts/analyst_guide_examples.py runs against a stack, and the figures drawn from what
those snippets return (PNGs in docs/img/, made with matplotlib and geopandas).

A topic is a list of blocks: `Text` (Markdown, shown as is), `Snippet` (Python run in the topic's namespace,
which holds `fc`, `conn` and `pd`; its `df` is recorded and shown as a table) and `Figure` (a function of that
namespace that writes a PNG, which the guide shows). A topic's `prepare` runs before the connection is made,
e.g. to load the custom layer its snippets query, so that the token minted afterwards carries its scopes.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"

# The example layer: five hand-drawn, non-overlapping zones over the synthetic country's disaster region.
LAYER = "flood_response_2016_01"
LAYER_FILE = ROOT / "docs" / "examples" / f"{LAYER}.geojson"
DISASTER = "SYN.4.2_1"  # Padraimkot: its cells go down from 2016-01-05 in the `make demo` data
DISASTER_START = "2016-01-05"
# admin2name in geography.admin2 of the synthetic country
ADMIN2_NAMES = {DISASTER: "Padraimkot", "SYN.4.1_1": "Trazeri", "SYN.4.4_1": "Michestris"}

# Okabe-Ito colours (told apart with the common colour-vision deficiencies) and a greyscale-safe map.
ORANGE, BLUE, GREEN, GREY = "#E69F00", "#0072B2", "#009E73", "#999999"
CMAP = "cividis"
SOURCE = (
    "Source: `make demo` synthetic data via FlowAPI; drawn by scripts/analyst_guide_examples.py"
)


@dataclass(frozen=True)
class Text:
    markdown: str


@dataclass(frozen=True)
class Snippet:
    key: str  # its output in docs/analyst-guide-outputs.json is under "topic:<key>"
    code: str
    rows: int = 10  # how many rows of `df` the guide shows


@dataclass(frozen=True)
class Figure:
    file: str  # in docs/img/
    alt: str
    draw: Callable[[dict[str, Any], Path], None]  # (the topic's namespace, the PNG to write)


@dataclass(frozen=True)
class Topic:
    title: str
    blocks: tuple[Text | Snippet | Figure, ...]
    prepare: Callable[[str], None] | None = field(default=None)  # given FlowAPI's base URL


# -- preparing the stack --------------------------------------------------------------------------------------


def _published_scopes(api: str) -> list[str]:
    with urllib.request.urlopen(f"{api}/api/0/spec/openapi.json", timeout=30) as reply:
        return json.load(reply)["components"]["securitySchemes"]["token"]["x-security-scopes"]


def load_example_layer(api: str, *, wait_seconds: float = 150) -> None:
    """Load docs/examples/<LAYER>.geojson with `flowdb load-geography` (unless FlowAPI already publishes it), then
    wait until FlowAPI's spec (refreshed about once a minute) lists the layer's scopes."""
    wanted = f"polygon-{LAYER}:geography:geography"
    if wanted in _published_scopes(api):
        return
    flowdb = Path(sys.executable).parent / "flowdb"
    done = subprocess.run(
        [str(flowdb), "load-geography", str(LAYER_FILE), "--layer", LAYER]
        + ["--id-property", "zone", "--name-property", "name"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0 and "exists already" not in done.stderr:
        raise SystemExit(f"flowdb load-geography failed: {done.stderr.strip()}")
    print(done.stdout.strip() or f"layer {LAYER} is loaded already", flush=True)
    deadline = time.monotonic() + wait_seconds
    while wanted not in _published_scopes(api):
        if time.monotonic() > deadline:
            raise SystemExit(f"FlowAPI does not publish {wanted} after {wait_seconds:.0f} s")
        time.sleep(5)


# -- figures --------------------------------------------------------------------------------------------------


def _source_note(fig: Any, what: str) -> None:
    made = dt.date.today().isoformat()
    fig.text(
        0.01,
        0.01,
        f"{what}.\n{SOURCE} on {made}.",
        fontsize=8,
        color="#444444",
        ha="left",
        va="bottom",
    )


def draw_layer_map(ns: dict[str, Any], path: Path) -> None:
    """The zones of the example layer on two days, coloured by subscribers; redacted zones hatched grey."""
    import geopandas as gpd
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize
    from matplotlib.patches import Patch

    import flowclient as fc

    zones = gpd.GeoDataFrame.from_features(ns["zones"]["features"], crs="EPSG:4326")
    admin2 = gpd.GeoDataFrame.from_features(
        fc.get_geography(connection=ns["conn"], aggregation_unit="admin2")["features"],
        crs="EPSG:4326",
    )
    table = ns["df"].set_index("pcod")
    days = [c for c in table.columns if c != "name"]
    norm = Normalize(vmin=0, vmax=float(table[days].max().max()))
    x0, y0, x1, y1 = zones.total_bounds
    pad = 0.25
    fig, axes = plt.subplots(1, len(days), figsize=(10, 4.7), dpi=110, layout="constrained")
    fig.get_layout_engine().set(rect=(0, 0.07, 1, 0.93))
    for ax, day in zip(axes, days, strict=True):
        admin2.boundary.plot(ax=ax, color="#bbbbbb", linewidth=0.6)
        shown = zones.assign(value=zones["pcod"].map(table[day]))
        published, redacted = shown[shown.value.notna()], shown[shown.value.isna()]
        published.plot(
            ax=ax, column="value", cmap=CMAP, norm=norm, edgecolor="black", linewidth=0.8
        )
        if len(redacted):
            redacted.plot(
                ax=ax, facecolor="#e0e0e0", edgecolor="#555555", hatch="///", linewidth=0.8
            )
        top = shown.geometry.bounds.maxy.max()
        largest = shown.to_crs("EPSG:6933").area.idxmax()  # an equal-area projection
        for index, zone in shown.iterrows():
            # the largest zone holds its label; the others are labelled below it (the northernmost to its right)
            minx, miny, maxx, maxy = zone.geometry.bounds
            count = "no row" if zone.value != zone.value else f"{zone.value:,.0f}"
            if index == largest:
                point = zone.geometry.representative_point()
                x, y, offset, ha, va = point.x, point.y, (0, 0), "center", "center"
            elif maxy == top:
                x, y, offset, ha, va = maxx, (miny + maxy) / 2, (4, 0), "left", "center"
            else:
                x, y, offset, ha, va = (minx + maxx) / 2, miny, (0, -3), "center", "top"
            ax.annotate(
                f"{zone['name'].replace(' (', chr(10) + '(')}\n{count}",
                (x, y),
                xytext=offset,
                textcoords="offset points",
                ha=ha,
                va=va,
                fontsize=8.5,
                bbox={
                    "boxstyle": "round,pad=0.15",
                    "facecolor": "white",
                    "alpha": 0.8,
                    "linewidth": 0,
                },
            )
        ax.set_xlim(x0 - pad, x1 + pad)
        ax.set_ylim(y0 - pad - 0.1, y1 + pad)  # room for the labels under the southern zones
        # a degree of longitude is cos(27.6°) = 0.886 times a degree of latitude here
        ax.set_aspect(1 / 0.886)
        ax.set_title(f"{day} (last location of the day)", fontsize=10)
        ax.set_xlabel("longitude (°E)", fontsize=9)
        ax.set_ylabel("")
        ax.tick_params(labelsize=8.5)
    axes[0].set_ylabel("latitude (°N)", fontsize=9)
    bar = fig.colorbar(
        plt.cm.ScalarMappable(norm=norm, cmap=CMAP), ax=list(axes), shrink=0.75, pad=0.02
    )
    bar.set_label("subscribers (last event of the day in the zone)", fontsize=9)
    bar.ax.tick_params(labelsize=8.5)
    axes[-1].legend(
        handles=[
            Patch(
                facecolor="#e0e0e0",
                edgecolor="#555555",
                hatch="///",
                label="no row: 15 or fewer subscribers (redacted)",
            ),
            Patch(facecolor="none", edgecolor="#bbbbbb", label="admin2 boundaries"),
        ],
        loc="lower right",
        fontsize=8,
        framealpha=0.95,
    )
    fig.suptitle(
        f"Subscribers per zone of the custom layer polygon-{LAYER}, before and after the flood",
        fontsize=11.5,
    )
    _source_note(fig, f"spatial_aggregate of daily_location at polygon-{LAYER}")
    fig.savefig(path)
    plt.close(fig)


def draw_rolling_chart(ns: dict[str, Any], path: Path) -> None:
    """3-day unique subscribers of the disaster region and two neighbours, redacted windows marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    import pandas as pd

    wide = ns["df"].assign(date=lambda d: pd.to_datetime(d["date"])).set_index("date")
    styles = {
        DISASTER: (ORANGE, "o", "-"),
        "SYN.4.1_1": (BLUE, "s", "--"),
        "SYN.4.4_1": (GREEN, "^", "-."),
    }
    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=110, layout="constrained")
    fig.get_layout_engine().set(rect=(0, 0.07, 1, 0.93))
    start = pd.Timestamp(DISASTER_START)
    ax.axvspan(
        start - pd.Timedelta(hours=12), wide.index.max() + pd.Timedelta(hours=12), color="#f2f2f2"
    )
    ax.text(
        start - pd.Timedelta(hours=9),
        0.97,
        f"cells of {DISASTER} down\nfrom {DISASTER_START}",
        transform=ax.get_xaxis_transform(),
        va="top",
        fontsize=8.5,
        color="#333333",
    )
    for pcod, (colour, marker, line) in styles.items():
        series = wide[pcod]
        ax.plot(
            series.index,
            series.values,
            color=colour,
            marker=marker,
            linestyle=line,
            linewidth=2,
            label=f"{pcod} {ADMIN2_NAMES[pcod]}"
            + (" (disaster region)" if pcod == DISASTER else ""),
        )
        missing = series[series.isna()]
        if len(missing):
            ax.scatter(missing.index, [0] * len(missing), marker="x", s=60, color=colour, zorder=3)
            ax.annotate(
                "no row: 15 or fewer\nsubscribers (redacted)",
                (missing.index[0], 0),
                xytext=(-6, 14),
                textcoords="offset points",
                ha="left",
                fontsize=8.5,
                color="#333333",
            )
    ax.set_ylim(bottom=-250)
    ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    ax.xaxis.set_major_locator(mdates.DayLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax.set_xlabel("last day of the 3-day window (2016)", fontsize=9.5)
    ax.set_ylabel("distinct subscribers seen in the window", fontsize=9.5)
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.tick_params(labelsize=8.5)
    ax.legend(fontsize=8.5, loc="lower left", bbox_to_anchor=(0, 0.1), framealpha=0.95)
    ax.set_title("Unique subscribers over rolling 3-day windows, admin2", fontsize=11.5)
    _source_note(fig, "rolling_unique_subscriber_counts, window_days=3")
    fig.savefig(path)
    plt.close(fig)


# -- the topics -----------------------------------------------------------------------------------------------

GEOGRAPHY = Topic(
    title="Your own geography",
    prepare=load_example_layer,
    blocks=(
        Text(
            f"""\
Responders rarely work in the operator's admin units: they need this week's camps, the flood extent, the
health districts. An administrator loads such a layer into FlowDB once, and it becomes an aggregation unit like
`admin2` for every query kind.

**The administrator** loads the polygons of a GeoJSON, GeoPackage or Shapefile (reprojected to WGS 84;
overlapping polygons are refused, so that no subscriber can be differenced out between two zones), or makes a
grid of N km squares over the country ([flowdb.md](flowdb.md), "Custom geography"):

```bash
flowdb load-geography docs/examples/{LAYER}.geojson --layer {LAYER} \\
    --id-property zone --name-property name
# loaded 5 polygons from docs/examples/{LAYER}.geojson into custom_geography.{LAYER}
# (aggregation unit polygon-{LAYER})
flowdb make-grid --size-km 25
# made 343 squares of 25 km into custom_geography.grid_25km (aggregation unit polygon-grid_25km)
```

A layer is never replaced: a new version gets a new name (hence the month in `{LAYER}`). Within a
minute FlowAPI publishes the layer's scopes, named like an admin unit's (`<unit>:<query kind>:<kind used>`);
the map below needs `polygon-{LAYER}:spatial_aggregate:spatial_aggregate`,
`polygon-{LAYER}:spatial_aggregate:daily_location` and
`polygon-{LAYER}:geography:geography`. The administrator refreshes the server's scopes
in FlowAuth and grants them to a role ([admin-guide.md](admin-guide.md)); a token without them is refused
(403).

**The analyst** passes `aggregation_unit="polygon-{LAYER}"` wherever an admin unit goes, and fetches
the zones' polygons with `get_geography`. The example layer
([`docs/examples/{LAYER}.geojson`](examples/{LAYER}.geojson))
has five hand-drawn zones around the demo's disaster region (`{DISASTER}`, Padraimkot, whose cells go
down from {DISASTER_START}): the flood extent, three host areas and a camp. Where did subscribers end the day,
before and after?"""
        ),
        Snippet(
            "geography",
            f"""\
unit = "polygon-{LAYER}"
zones = fc.get_geography(connection=conn, aggregation_unit=unit)  # GeoJSON, one feature per zone
names = {{f["id"]: f["properties"]["name"] for f in zones["features"]}}
counts = {{}}
for day in ["2016-01-03", "2016-01-06"]:
    home = fc.daily_location_spec(date=day, aggregation_unit=unit, method="last")
    result = fc.spatial_aggregate(connection=conn, locations=home).get_result()
    counts[day] = result.set_index("pcod")["value"]
df = pd.DataFrame(counts).reindex(list(names)).rename_axis("pcod").reset_index()
df.insert(1, "name", df["pcod"].map(names))""",
        ),
        Text(
            """\
The flood extent has no row on 2016-01-06: 15 or fewer subscribers ended the day there (on the demo data
none, its cells being down), and a missing row never says how many. Subscribers outside every zone are counted
in none. To map a result, `geopandas.GeoDataFrame.from_features(zones["features"])` gives the zones with their
`pcod` to join `df` on; `draw_layer_map` in `scripts/analyst_guide_topics.py` drew this one:"""
        ),
        Figure(
            "custom-layer-map.png",
            f"Map of the five zones of polygon-{LAYER} on 2016-01-03 and 2016-01-06, coloured by subscribers; "
            "the flood extent is hatched grey on 2016-01-06 (redacted)",
            draw_layer_map,
        ),
    ),
)

ROLLING = Topic(
    title="Rolling windows and weekly totals",
    blocks=(
        Text(
            """\
Situation reports count people per week, or per rolling 7 days. `rolling_unique_subscriber_counts` gives, for
every day, the distinct subscribers seen at each location in the `window_days` days ending that day (7 by
default), in one pass over the data ([flowmachine.md](flowmachine.md), "Temporal aggregations"). Windows lie
inside `[start_date, end_date)`, so the first one ends on `start_date + window_days - 1`: for a 7-day series
over March, ask from February 23. The demo has only eight days of data, where 7-day windows would give two
points, so this example uses 3-day windows, for the disaster region and two of its neighbours:"""
        ),
        Snippet(
            "rolling",
            """\
regions = ["SYN.4.2_1", "SYN.4.1_1", "SYN.4.4_1"]  # the disaster region and two neighbours
rolling = fc.rolling_unique_subscriber_counts(
    connection=conn, start_date="2016-01-01", end_date="2016-01-09", aggregation_unit="admin2",
    window_days=3,
).get_result()
df = (rolling[rolling["pcod"].isin(regions)]
      .pivot(index="date", columns="pcod", values="value")[regions].reset_index())""",
        ),
        Text(
            """\
Each row is what `unique_subscriber_counts` gives for that window, and is published only if more than 15
subscribers are behind it: the disaster region's windows ending on 7 and 8 January have no row. A subscriber
counts in every window that saw them, so the values of consecutive days overlap and must not be summed."""
        ),
        Figure(
            "rolling-window-chart.png",
            "Line chart of 3-day unique subscribers from 3 to 8 January 2016 for SYN.4.2_1, SYN.4.1_1 and "
            "SYN.4.4_1: the disaster region falls to no row, its neighbours rise",
            draw_rolling_chart,
        ),
        Text(
            """\
Weekly totals are `count_interval="week"` buckets of `location_event_counts` (and `total_by="week"` for
`total_network_objects`, `aggregate_by="week"` for `aggregate_network_objects`). Weeks are ISO weeks, Monday
00:00 UTC to Sunday, each labelled by its Monday; the first and last weeks count only the days inside the query's
dates, so here the week of 28 December holds 1–3 January (Friday to Sunday) and the week of 4 January holds
4–8 January. Compare partial weeks per day, not as totals."""
        ),
        Snippet(
            "weekly",
            """\
weekly = fc.location_event_counts(
    connection=conn, start_date="2016-01-01", end_date="2016-01-09", aggregation_unit="admin2",
    count_interval="week", direction="both", event_types=["calls", "sms"],
).get_result()
df = weekly[weekly["pcod"].isin(["SYN.4.2_1", "SYN.4.1_1", "SYN.4.4_1"])].sort_values(["pcod", "date"])""",
        ),
    ),
)

TOPICS: list[Topic] = [GEOGRAPHY, ROLLING]
