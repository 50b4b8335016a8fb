"""`make demo`'s AutoFlow step: the example situation report for the newest date of data, as a PDF.

Runs `autoflow run --latest --no-prefect` on AutoFlow's example workflows (`autoflow/examples/inputs/workflows.yml`: two
notebooks, the second rendered as a PDF) with the demo token `scripts/demo_api.py` saved, against the stack's
FlowAPI. The newest date is the day FlowETL ingested from operator files when there is one. AutoFlow's outputs
(executed notebooks, PDFs, its run table) go to `$STACK_DIR/autoflow/outputs`; running `make demo` again skips
a report already made. Prints where the PDF is. The run is in-process (`--no-prefect`): the same code as under
Prefect, without the 10-20 s start of Prefect's ephemeral API, which the FlowETL step has already shown;
`AUTOFLOW_SENSOR=1 make up` runs the sensor with Prefect.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STACK_DIR = Path(os.environ.get("STACK_DIR") or ".stack").resolve()
HOME = STACK_DIR / "autoflow"
OUTPUTS = HOME / "outputs"


def main() -> int:
    token_file = STACK_DIR / "demo-token"
    if not token_file.is_file():
        print(f"AutoFlow: no token in {token_file} (scripts/demo_api.py makes it); skipped")
        return 0
    env = {
        **os.environ,
        "AUTOFLOW_HOME": str(HOME),
        "AUTOFLOW_INPUTS_DIR": str(ROOT / "autoflow" / "examples" / "inputs"),
        "AUTOFLOW_OUTPUTS_DIR": str(OUTPUTS),
        "FLOWAPI_URL": f"http://127.0.0.1:{os.environ.get('FLOWAPI_PORT') or 9090}",
        "FLOWAPI_TOKEN": token_file.read_text().strip(),
    }
    print(
        "AutoFlow: the example situation report for the newest date (autoflow run --latest)",
        flush=True,
    )
    done = subprocess.run(["autoflow", "run", "--latest"], env=env, check=False)
    reports = sorted((OUTPUTS / "reports").glob("*.pdf"), key=lambda p: p.stat().st_mtime)
    if reports:
        print(f"AutoFlow report: {reports[-1]}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
