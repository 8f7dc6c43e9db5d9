"""``python -m schemaops``: the console script."""

from __future__ import annotations

import sys

from schemaops.cli import main

if __name__ == "__main__":
    sys.exit(main())
