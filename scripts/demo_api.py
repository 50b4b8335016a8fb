"""`make demo`'s example analysis through the API, as an analyst runs it: a token, then FlowClient.

Mints a token with the stack's development key (`.stack/keys/private.pem`, made by `make up`) for every scope
FlowAPI publishes (valid for a day, saved owner-only in `.stack/demo-token` for `make demo` to print), then asks for the number of subscribers per admin1 region by their last location on the
first and last day of data (the last one ingested by FlowETL from operator files: scripts/demo_etl.py), and
how many moved between the two; then a few QA check outcomes per day.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import urllib.request
import warnings
from pathlib import Path

import pandas as pd

import flowclient
from flowkit_jwt_generator import generate_token, load_private_key

STACK_DIR = Path(os.environ.get("STACK_DIR") or ".stack")
API = f"http://127.0.0.1:{os.environ.get('FLOWAPI_PORT') or 9090}"


def token() -> str:
    with urllib.request.urlopen(f"{API}/api/0/spec/openapi.json", timeout=30) as reply:
        scheme = json.load(reply)["components"]["securitySchemes"]["token"]
    key = (
        os.environ.get("PRIVATE_JWT_SIGNING_KEY")
        or (STACK_DIR / "keys" / "private.pem").read_text()
    )
    return generate_token(
        flowapi_identifier=scheme["x-audience"],
        username="demo",
        private_key=load_private_key(key),
        lifetime=dt.timedelta(days=1),
        roles={"demo": scheme["x-security-scopes"]},
    )


def main() -> None:
    warnings.filterwarnings("ignore", message=".*NOT SECURE.*")  # plain http on loopback
    minted = token()
    saved = STACK_DIR / "demo-token"
    saved.touch(mode=0o600)
    saved.write_text(minted + "\n")
    conn = flowclient.connect(url=API, token=minted)
    dates = sorted(flowclient.get_available_dates(connection=conn)["calls"])
    first, last = dates[0], dates[-1]

    def located(day: str) -> dict:
        return flowclient.daily_location_spec(date=day, aggregation_unit="admin1", method="last")

    counts = {}
    for day in (first, last):
        q = flowclient.spatial_aggregate(connection=conn, locations=located(day))
        counts[day] = q.get_result().set_index("pcod")["value"]
    moved = flowclient.flows(
        connection=conn, from_location=located(first), to_location=located(last)
    ).get_result()
    moved = moved[moved.pcod_from != moved.pcod_to].groupby("pcod_from")["value"].sum()
    table = pd.DataFrame({f"subscribers {first}": counts[first], f"subscribers {last}": counts[last],
                          "moved away by the last day": moved}).fillna(0).astype(int)  # fmt: skip
    print(
        f"\nThrough FlowAPI ({API}) with flowclient: subscribers per admin1 region (last location)\n"
    )
    print(table.to_string())
    print(
        "\nRows resting on 15 or fewer subscribers are redacted by FlowMachine before they are stored."
    )
    show_qa_checks(conn, first, last)


def show_qa_checks(conn: flowclient.Connection, first: str, last: str) -> None:
    """A few QA check outcomes per day, as FlowETL (the last day) and the synthetic generator recorded them."""
    available = flowclient.get_available_qa_checks(connection=conn)
    checks = ("count_added_rows", "count_msisdns", "count_location_ids", "latest_timestamp")
    columns = {
        check: flowclient.get_qa_check_outcomes_df(
            connection=conn, event_type="calls", check_type=check, start_date=first, end_date=last
        ).set_index("cdr_date")["outcome"]
        for check in checks
    }
    print(f"\nQA checks through flowclient ({len(available)} on record); calls per day:\n")
    print(pd.DataFrame(columns).to_string())


if __name__ == "__main__":
    main()
