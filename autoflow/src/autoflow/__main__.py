"""`python -m autoflow`: the `autoflow` command."""

import sys

from autoflow.cli import main

sys.exit(main())
