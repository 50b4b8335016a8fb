"""`autoflow`: the command line (being built: docs/autoflow.md)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    print("autoflow: not built yet", file=sys.stderr)
    return 2
