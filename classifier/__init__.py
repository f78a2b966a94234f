"""The reference persona classifier: the production job of ../shared/SPEC.md, serial and parallel.

config     TOML [personas] -> PersonaConfig (frozen, validated)
store      every SQL statement: open, check schema, read, write one chunk
stage1     pure: all-time summary -> excluded or passed
features   pure: window rows -> Features
sqlmath    pure: SQLite's SUM/AVG arithmetic where production aggregates in SQL
stage2     pure: Features -> traits + exclusion | persona | nothing
executor   where chunk jobs (Stage 1 + features) run: inline, processes, threads, any Executor
forkserver the fork server process pools fork from: started before the pipeline is imported
options    RunOptions: how to run the job (cheap to import)
pipeline   chunks: Stage 1 -> features -> Stage 2 -> one transaction per chunk
resume     what --resume does, from the job_status row
cli        persona-bench classify
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names resolve on first use (PEP 562): importing one module of the package, as ``classify``
# does before it starts its fork server, does not import the pipeline.
_HOME = {
    "ConfigError": "classifier.config",
    "PersonaConfig": "classifier.config",
    "load_config": "classifier.config",
    "FeatureError": "classifier.features",
    "Features": "classifier.features",
    "compute_features": "classifier.features",
    "RunOptions": "classifier.options",
    "run": "classifier.pipeline",
    "DatabaseError": "classifier.store",
}

if TYPE_CHECKING:
    from classifier.config import ConfigError, PersonaConfig, load_config
    from classifier.features import FeatureError, Features, compute_features
    from classifier.options import RunOptions
    from classifier.pipeline import run
    from classifier.store import DatabaseError


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'classifier' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)


__all__ = [
    "ConfigError",
    "DatabaseError",
    "FeatureError",
    "Features",
    "PersonaConfig",
    "RunOptions",
    "compute_features",
    "load_config",
    "run",
]
