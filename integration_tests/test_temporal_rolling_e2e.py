"""A rolling 2-day unique-subscriber series through flowclient, FlowAPI and FlowMachine on the whole stack, against
plain SQL over FlowDB's events: one independent distinct count per window, redacted as every aggregate is."""

from __future__ import annotations

import pandas as pd

import flowclient as fc
from flowclient import aggregates as ag

# For each window end day: distinct subscribers with a calls/sms event in the two days ending that day, at
# cells in service on the event's day, per admin1 region containing the cell.
PER_WINDOW_SQL = """
SELECT a.admin1pcod AS pcod, d.day::date::text AS date, count(DISTINCT e.msisdn) AS value
FROM generate_series('2016-03-02'::timestamptz, '2016-03-05'::timestamptz, interval '1 day') AS d(day)
JOIN (SELECT msisdn, datetime, location_id FROM events.calls
      UNION ALL SELECT msisdn, datetime, location_id FROM events.sms) e
  ON e.datetime >= d.day - interval '1 day' AND e.datetime < d.day + interval '1 day'
JOIN infrastructure.cells c
  ON c.id = e.location_id
 AND e.datetime::date BETWEEN coalesce(c.date_of_first_service, '-infinity'::date)
                          AND coalesce(c.date_of_last_service, 'infinity'::date)
JOIN geography.admin1 a ON ST_Within(c.geom_point, a.geom)
GROUP BY 1, 2
HAVING count(DISTINCT e.msisdn) > 15
"""


def test_temporal_rolling_series_through_flowclient(stack, conn: fc.Connection) -> None:
    query = ag.rolling_unique_subscriber_counts(
        connection=conn,
        start_date="2016-03-01",
        end_date="2016-03-06",
        aggregation_unit="admin1",
        window_days=2,
        event_types=["calls", "sms"],
    )
    got = query.get_result()
    with stack.cluster.connect() as db:
        rows = db.execute(PER_WINDOW_SQL).fetchall()
    expected = pd.DataFrame(rows, columns=["pcod", "date", "value"])
    assert len(expected) > 0
    key = ["pcod", "date"]
    assert list(got.columns) == ["pcod", "date", "value"]
    got = got.sort_values(key).reset_index(drop=True)
    expected = expected.sort_values(key).reset_index(drop=True)
    assert got[key].equals(expected[key])
    assert got.value.astype(int).tolist() == expected.value.astype(int).tolist()
    assert sorted(set(got.date)) == ["2016-03-02", "2016-03-03", "2016-03-04", "2016-03-05"]
