"""persona-bench: the command line that ties the classifier and the harness together.

``classifier/`` is the job (a reference implementation of the production persona
classification); ``harness/`` validates any build of that job by running it as a command.
This package only holds what both share: the version, the user-error type and ``main``.
"""

from persona_bench.errors import EXIT_BAD_INPUT, EXIT_MISMATCH, EXIT_OK, UserError

__version__ = "0.1.0"

__all__ = ["EXIT_BAD_INPUT", "EXIT_MISMATCH", "EXIT_OK", "UserError", "__version__"]
