"""`flowdb synthetic --operator-files`: the day after the generated ones, written as an operator's CSV.gz files."""

from __future__ import annotations

import datetime as dt
from functools import partial

import pandas as pd
import psycopg
import pytest

from flowdb.synthetic.config import SyntheticConfig
from flowdb.synthetic.operator_files import BAD_ROWS, CONFIG_NAME, FIELDS
from flowdb.synthetic.run import clear_events, generate

START = dt.date(2016, 1, 1)
EXTRA = START + dt.timedelta(days=1)


def _config(generator: str, n_days: int) -> SyntheticConfig:
    return SyntheticConfig(
        generator=generator,
        n_days=n_days,
        n_subscribers=300,
        n_sites=60,
        n_cells=80,
        n_tacs=20,
        n_calls=1500,
        n_sms=0,
        n_mds=400,
        n_topups=200,
        n_admin1=2,
        n_admin2=4,
        n_admin3=8,
        skip_test_qa_check=True,
    ).validate()


def _partition(conn: psycopg.Connection, cdr_type: str, day: dt.date) -> pd.DataFrame:
    columns = [c for _, c in FIELDS[cdr_type]]
    cur = conn.execute(
        f"SELECT {', '.join(columns)} FROM events.{cdr_type}_{day:%Y%m%d}"  # names from FIELDS
    )
    return pd.DataFrame(cur.fetchall(), columns=columns)


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The loaded rows as the file spells them: UTC ISO timestamps, t/f, numbers in PostgreSQL's text form."""
    out = frame.copy()
    out["datetime"] = pd.to_datetime(out["datetime"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if "outgoing" in out:
        out["outgoing"] = out["outgoing"].map({True: "t", False: "f"})
    return out.map(lambda v: None if v is None else str(v))


@pytest.mark.parametrize("generator", ["sql", "python"])
def test_operator_files_hold_the_next_day_with_a_few_bad_rows(
    cluster, native_library, generator, tmp_path
):
    connect = partial(psycopg.connect, cluster.settings.url(), autocommit=True)
    library = native_library if generator == "sql" else None
    # The day as it is when loaded: the same seeds over two days.
    generate(connect, _config(generator, 2), native_library=library)
    with connect() as conn:
        loaded = {t: _partition(conn, t, EXTRA) for t in ("calls", "mds", "topups")}

    landing = tmp_path / "landing"
    landing.mkdir()
    stale = landing / "calls_20150101.csv.gz"
    stale.write_bytes(b"left by an earlier run")
    report = generate(
        connect, _config(generator, 1), native_library=library, operator_files=landing
    )

    names = sorted(p.name for p in landing.iterdir())
    assert names == [
        "calls_20160102.csv.gz",
        CONFIG_NAME,
        "mds_20160102.csv.gz",
        "topups_20160102.csv.gz",
    ]
    with connect() as conn:
        available = conn.execute("SELECT DISTINCT cdr_date FROM etl.available_dates").fetchall()
        assert available == [(START,)]
        assert conn.execute("SELECT to_regclass('events.calls_20160102')").fetchone()[0] is None
        leftovers = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'operator_%'")
        assert leftovers.fetchone()[0] == 0
    assert report.rows == {"calls": 3000, "mds": 400, "topups": 200}  # the loaded day only

    for cdr_type, expected in loaded.items():
        written = pd.read_csv(
            landing / f"{cdr_type}_20160102.csv.gz", dtype=str, keep_default_na=False
        )
        headers = [h for h, _ in FIELDS[cdr_type]]
        assert list(written.columns) == headers
        assert len(written) == len(expected)
        written = written.rename(columns=dict(FIELDS[cdr_type])).replace("", None)
        nulls = written["msisdn"].isna()
        late = written["datetime"] < f"{EXTRA}T00:00:00Z"
        assert (nulls.sum(), late.sum()) == (BAD_ROWS["null msisdn"], BAD_ROWS["outside the day"])
        assert (
            written["datetime"].is_monotonic_increasing is False
        )  # late records sit among the others
        # Apart from the bad rows, the file holds the day the generator would have loaded.
        matched = _as_text(expected).merge(written[~nulls & ~late], how="left", indicator=True)
        assert len(matched) == len(expected)
        assert (matched["_merge"] == "both").sum() == len(written) - sum(BAD_ROWS.values())


@pytest.fixture(autouse=True)
def _no_leftover_events(cluster):
    """Modules after this one that load days without clearing first find no events of this one's."""
    yield
    with psycopg.connect(cluster.settings.url(), autocommit=True) as conn:
        clear_events(conn)
