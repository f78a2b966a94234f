"""Imported by the fork server only (a ``set_forkserver_preload`` module): it dies with the job,
and runs the job's main script once for all its workers (``classifier.forkserver._main_path``).

The fork server's own watch (EOF on a pipe from the job) does not reach the workers it forked,
so it arms the parent-death signal at start-up; each worker arms its own against the server
(``classifier.lifeline``). Never import this module elsewhere: importing it arms the signal.
"""

from __future__ import annotations

import os

from classifier.lifeline import JOB_PID_ENV, MAIN_PATH_ENV, SERVER_PID_ENV, die_with_parent

die_with_parent(int(os.environ[JOB_PID_ENV]) if JOB_PID_ENV in os.environ else None)
# the workers this server forks check that they are still its children when they arm theirs
os.environ[SERVER_PID_ENV] = str(os.getpid())
if os.environ.get(MAIN_PATH_ENV):
    from multiprocessing import spawn

    spawn.import_main_path(os.environ[MAIN_PATH_ENV])
