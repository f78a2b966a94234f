"""The reference persona classifier: the production job of ../shared/SPEC.md, serial and parallel.

config     TOML [personas] -> PersonaConfig (frozen, validated)
store      every SQL statement: open, check schema, read, write one chunk
stage1     pure: all-time summary -> excluded or passed
features   pure: window rows -> Features
sqlmath    pure: SQLite's SUM/AVG arithmetic where production aggregates in SQL
stage2     pure: Features -> traits + exclusion | persona | nothing
executor   where chunk jobs (Stage 1 + features) run: inline, processes, threads, any Executor
pipeline   chunks: Stage 1 -> features -> Stage 2 -> one transaction per chunk
resume     what --resume does, from the job_status row
cli        persona-bench classify
"""

from classifier.config import ConfigError, PersonaConfig, load_config
from classifier.features import FeatureError, Features, compute_features
from classifier.pipeline import RunOptions, run
from classifier.store import DatabaseError

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
