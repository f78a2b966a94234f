"""persona-bench: the command line that ties the classifier, the harness and the fixtures together.

``classifier/`` is the job (a reference implementation of the production persona
classification); ``harness/`` validates any build of that job by running it as a command;
``fixtures/`` writes production-shaped databases. ``persona_bench.cli`` parses the command line
and dispatches to them; ``persona_bench.kernel`` holds what they all share (errors, SQLite file
checks, argument types, the version).
"""

from persona_bench.kernel import __version__

__all__ = ["__version__"]
