"""`python -m benchmarks.validity CHECKOUT... --out DIR [--grader LABEL=PATH]...` (see runner.py)."""

import sys

from benchmarks.validity.runner import main

sys.exit(main())
