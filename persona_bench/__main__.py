"""``python -m persona_bench`` is ``persona-bench``."""

import sys

from persona_bench.cli import main

sys.exit(main())
