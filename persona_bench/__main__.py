"""``python -m persona_bench`` is ``persona-bench``."""

import sys

from persona_bench.cli import main

# The guard matters: worker processes (forkserver, spawn) import the main module.
if __name__ == "__main__":
    sys.exit(main())
