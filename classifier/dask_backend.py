"""The Dask backend: chunk jobs on a ``dask.distributed`` cluster, as a standard ``Executor``.

``connect(address, timeout_s)`` returns a ``DaskExecutor``: a ``concurrent.futures.Executor`` over
a ``distributed.Client`` to the scheduler at ``address``, so the pipeline treats it like its own
process pool. ``dask[distributed]`` is an optional extra (``pip install persona-bench[dask]``),
imported here only, and only when the backend is asked for.

Faults, and who handles them:

- A worker that dies while holding chunk jobs: the scheduler gives its jobs to another worker
  (each job is a pure function of its arguments); the run goes on, and ``shutdown`` reports the
  scheduler's ``remove-worker`` events that named this run's jobs, one line per lost worker, in
  the summary's ``workers.events``.
- A job whose workers kept dying (``KilledWorker``, after the scheduler's ``allowed-failures``):
  its future fails with ``DaskWorkersLost``, a ``BrokenExecutor``, and the pipeline recomputes its
  chunk in the writer, as for a broken process pool.
- A job that raises (a worker whose snapshot is not the run's: ``SnapshotMismatch``) fails the
  run with that one line.

Errors::

    UserError
     └── DaskError    the extra is missing, or the scheduler is unreachable or has no worker
"""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, Future
from typing import Any

from persona_bench.kernel.errors import UserError

EXTRA = "pip install 'persona-bench[dask]'"
CONNECT_TIMEOUT_S = 10.0  # classify --connect-timeout: connecting, and waiting for a first worker
KEY_PREFIX = "persona-chunk"


class DaskError(UserError):
    """The Dask extra is missing, or the scheduler cannot be reached or has no worker."""


class DaskWorkersLost(BrokenExecutor):
    """A chunk job the cluster gave up on: every worker that ran it died."""


class DaskExecutor(Executor):
    """Chunk jobs as Dask tasks; ``_max_workers`` is the cluster's thread count at connect.

    Task keys are ``persona-chunk-<run token>-<n>``: unique per submission (``pure=False``, a
    resubmitted chunk is computed again, never served from a cache) and traceable in the
    scheduler's events and dashboard.
    """

    def __init__(self, client: Any, address: str) -> None:
        self._client = client
        self.address = address
        self._token = secrets.token_hex(6)
        self._seq = itertools.count(1)
        self._pending: dict[str, Any] = {}  # key -> dask future, until its result is handed over
        self._lock = threading.Lock()
        self._closed = False
        self._max_workers = max(1, sum(client.nthreads().values()))
        self.events: list[str] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``fn(*args, **kwargs)`` on the cluster; a standard future for its result."""
        if self._closed:
            raise RuntimeError("cannot submit to a Dask executor after shutdown")
        key = f"{KEY_PREFIX}-{self._token}-{next(self._seq)}"
        done: Future[Any] = Future()
        done.set_running_or_notify_cancel()
        task = self._client.submit(fn, *args, key=key, pure=False, **kwargs)
        with self._lock:
            self._pending[key] = task
        task.add_done_callback(lambda t: self._hand_over(key, t, done))
        return done

    def _hand_over(self, key: str, task: Any, done: Future[Any]) -> None:
        """Dask's outcome into the standard future (runs in Dask's callback thread)."""
        from distributed import KilledWorker

        try:
            if task.status == "finished":
                done.set_result(task.result())
            elif task.status == "cancelled":
                done.set_exception(DaskWorkersLost(f"dask job {key} was cancelled"))
            else:
                exc = task.exception()
                if isinstance(exc, KilledWorker):
                    done.set_exception(DaskWorkersLost(f"dask: {exc}"))
                else:
                    done.set_exception(exc)
        except BaseException as exc:  # the client closed under us: the job is lost
            if not done.done():
                done.set_exception(DaskWorkersLost(f"dask job {key}: {type(exc).__name__}: {exc}"))
        finally:
            with self._lock:
                self._pending.pop(key, None)  # releases the result on the worker

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Cancel or wait for pending jobs, collect the run's worker faults, close the client."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            pending = list(self._pending.values())
        try:
            if cancel_futures and pending:
                self._client.cancel(pending)
            elif wait and pending:
                from distributed import wait as wait_for

                wait_for(pending)
            self.events = self._lost_workers()
        finally:
            self._client.close(timeout=CONNECT_TIMEOUT_S)

    def _lost_workers(self) -> list[str]:
        """One line per worker the scheduler removed while it held jobs of this executor."""
        mine = f"{KEY_PREFIX}-{self._token}-"
        lines = []
        try:
            events = self._client.get_events("all")
        except Exception as exc:  # the scheduler is gone: say so rather than fail the run
            return [f"dask: could not read the scheduler's events ({type(exc).__name__}: {exc})"]
        for _, msg in events:
            if not isinstance(msg, dict) or msg.get("action") != "remove-worker":
                continue
            held = [
                k
                for field in ("processing-tasks", "lost-computed-tasks")
                for k in (msg.get(field) or ())
                if str(k).startswith(mine)
            ]
            if held:
                lines.append(
                    f"dask worker {msg.get('worker')} left the cluster holding {len(held)} chunk "
                    "job(s); the scheduler ran them again on another worker"
                )
        return lines


def connect(address: str | None, timeout_s: float = CONNECT_TIMEOUT_S) -> DaskExecutor:
    """A ``DaskExecutor`` on the scheduler at ``address``, or ``DaskError`` within ``timeout_s``."""
    if not address:
        raise DaskError("--backend dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
    try:
        from distributed import Client
    except ImportError as exc:
        raise DaskError(f"the dask backend needs the optional extra: {EXTRA} ({exc})") from None
    try:
        client = Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise DaskError(
            f"cannot reach the dask scheduler at {address} within {timeout_s:g} s "
            f"({type(exc).__name__}: {exc})"
        ) from None
    try:
        client.wait_for_workers(1, timeout=timeout_s)
        return DaskExecutor(client, address)
    except (OSError, TimeoutError) as exc:
        client.close()
        raise DaskError(
            f"the dask scheduler at {address} has no worker (waited {timeout_s:g} s; "
            f"{type(exc).__name__})"
        ) from None
    except BaseException:
        client.close()
        raise


__all__ = ["CONNECT_TIMEOUT_S", "DaskError", "DaskExecutor", "DaskWorkersLost", "connect"]
