"""`make demo`'s FlowETL step: ingest the operator-style files `flowdb synthetic --operator-files` wrote, as an
operator's FlowETL would, through its command line.

`make up` generates the demo week and writes the following day as one CSV.gz per CDR type, a few bad rows
included, with the FlowETL configuration that reads them, into `$STACK_DIR/landing`. This runs
`flowetl serve --once` on that folder (Prefect in ephemeral mode, its state in `$STACK_DIR/flowetl`), which
loads each day that has landed and is not loaded yet, so running `make demo` again loads nothing twice; then
`flowetl status` for the landed days shows what happened, bad rows and QA checks included.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

STACK_DIR = Path(os.environ.get("STACK_DIR") or ".stack").resolve()
LANDING = STACK_DIR / "landing"
CONFIG = LANDING / "flowetl.yml"
_FILE = re.compile(r"^[a-z]+_(\d{8})\.csv\.gz$")


def landed_days(folder: Path) -> list[dt.date]:
    """The days of the operator files in `folder`."""
    found = {_FILE.match(p.name) for p in folder.iterdir()} - {None}
    return sorted({dt.datetime.strptime(m[1], "%Y%m%d").date() for m in found if m})


def main() -> int:
    if not CONFIG.is_file():
        print(f"FlowETL: no operator files in {LANDING} (FlowDB was filled without them); skipped")
        return 0
    days = landed_days(LANDING)
    if not days:
        print(f"FlowETL: {LANDING} holds no operator files; skipped")
        return 0
    env = {
        **os.environ,
        "FLOWETL_HOME": os.environ.get("FLOWETL_HOME") or str(STACK_DIR / "flowetl"),
    }
    span = ["--start", days[0].isoformat()]
    print(f"FlowETL: loading what has landed in {LANDING} (flowetl serve --once)", flush=True)
    served = subprocess.run(
        ["flowetl", "serve", "--once", "--config", str(CONFIG), *span], env=env, check=False
    )
    subprocess.run(
        ["flowetl", "status", *span, "--end", days[-1].isoformat()], env=env, check=False
    )
    return served.returncode


if __name__ == "__main__":
    sys.exit(main())
