"""`python -m benchmarks [--smoke] [--rounds N] [--parts ...] [--json out.json]`: see benchmarks/run.py."""

import sys

from benchmarks.run import main

sys.exit(main())
