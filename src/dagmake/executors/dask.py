"""Run attempts on a Dask cluster: one future per attempt, cancelled through a shared event."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
import uuid

import distributed

from .._version import __version__
from ..errors import ExecutorError
from ..events import Attempt
from ..runner import open_log
from . import remote

_CANCELLED = (asyncio.CancelledError, concurrent.futures.CancelledError)
CONNECT_TIMEOUT = 20.0  # seconds to reach the scheduler, and to wait for a first worker
TAIL_EVERY = 0.2  # seconds between reads of a log, to stream it with -v


class DaskRunner:
    """A Runner whose attempts run on Dask workers that share the project's filesystem.

    Dagmake keeps the DAG, staleness, retries and -j; Dask only runs the ready attempt:
    `client.submit(remote.execute, ..., pure=False, key=<unique>, resources=...)`.
    With no address it starts an in-process LocalCluster with `jobs` threads.
    """

    honours_resources = True  # task resources go to Dask, not to the -j slots

    def __init__(
        self,
        root: str,
        *,
        address: str | None = None,
        scheduler_file: str | None = None,
        jobs: int | None = None,
        grace: float = 2.0,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        self.root = os.path.abspath(root)
        self.address = address
        self.scheduler_file = scheduler_file
        self.jobs = jobs or os.cpu_count() or 1
        self.grace = grace
        self.connect_timeout = connect_timeout
        self.build_id = uuid.uuid4().hex[:12]
        self.cancel_name = f"dagmake-cancel-{self.build_id}"
        self.client = None
        self.cluster = None
        self.default_jobs: int | None = None
        self._futures: dict[str, distributed.Future] = {}
        self._cancel = None
        self._lock = threading.Lock()
        self._stopping = False

    @property
    def where(self) -> str:
        if self.client is not None and getattr(self.client.scheduler, "address", None):
            return self.client.scheduler.address
        if self.address:
            return self.address
        return f"from {self.scheduler_file}" if self.scheduler_file else "(local cluster)"

    # -- connecting ------------------------------------------------------------------------

    def open(self) -> None:
        """Connect (or start a local cluster), then check every worker: version, shared files."""
        if self.client is not None:
            return
        _quiet(logging.ERROR)  # e.g. an INFO traceback when the scheduler goes away
        if self.address or self.scheduler_file:
            try:
                self.client = distributed.Client(
                    self.address,
                    scheduler_file=self.scheduler_file,
                    timeout=self.connect_timeout,
                    set_as_default=False,
                )
            except (OSError, TimeoutError, ValueError) as error:
                raise ExecutorError(
                    f"cannot connect to dask scheduler {self.where}: {_short(error)}",
                    hint="start one with `dask scheduler`, or check --scheduler/--scheduler-file",
                )
        else:
            # In-process: starts in ~0.1 s, and Ctrl-C reaches no worker process. Tasks are
            # still subprocesses, so threads are enough for parallel work.
            self.cluster = distributed.LocalCluster(
                n_workers=1,
                threads_per_worker=self.jobs,
                processes=False,
                dashboard_address=":0",  # None still binds 8787 (for /health)
                resources={"cpu": self.jobs},
            )
            self.client = distributed.Client(self.cluster, set_as_default=False)
        try:
            self.client.wait_for_workers(1, timeout=self.connect_timeout)
        except TimeoutError:
            error = ExecutorError(
                f"dask scheduler {self.where} has no workers",
                hint="start some with `dask worker <address>`",
            )
            self.close()
            raise error
        self.check_workers()
        self.default_jobs = max(1, sum(w.get("nthreads", 1) for w in self._workers().values()))
        self._cancel = distributed.Event(self.cancel_name, client=self.client)

    def check_workers(self) -> None:
        """Every worker must run this dagmake and see the project directory (the same files)."""
        state_dir = os.path.join(self.root, ".dagmake")
        os.makedirs(state_dir, exist_ok=True)
        marker = os.path.join(".dagmake", f"dask-{self.build_id}")
        token = uuid.uuid4().hex
        with open(os.path.join(self.root, marker), "w") as f:
            f.write(token)
        try:
            # Not until a worker has read the marker: a shared filesystem may show it late.
            deadline = time.monotonic() + 5.0
            while True:
                probes = self.client.run(remote.probe, self.root, marker, token, on_error="return")
                problem = worker_problem(probes, self.root)
                if problem is None or problem[0] != "marker" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        finally:
            os.unlink(os.path.join(self.root, marker))
        if problem is not None:
            self.close()
            kind, message = problem
            raise ExecutorError(message, hint=_HINTS.get(kind))

    def _workers(self) -> dict:
        try:
            info = self.client.scheduler_info(n_workers=-1)
        except TypeError:  # distributed before 2025 has no n_workers, and sends them all
            info = self.client.scheduler_info()
        return info.get("workers", {})

    # -- the Runner protocol ---------------------------------------------------------------

    def run(self, task, number: int, log_path: str, *, on_line=None) -> Attempt:
        """Run one attempt on a worker and wait for it; ExecutorError if the scheduler is lost."""
        started = time.time()
        if self._stopping:
            return Attempt(number, 130, started, 0.0, interrupted=True)
        if self.client is None:
            raise RuntimeError("DaskRunner.open() was not called")  # build() calls it
        if self.client.status not in ("running", "newly-created"):
            raise self._lost()
        resources = dict(task.resources)
        missing = self.missing_resource(resources)
        if missing:
            _write_log(log_path, f"dagmake: {missing}\n", fresh=number == 1)
            return Attempt(number, 1, started, 0.0, error=missing)
        key = f"dagmake-{task.name}-{self.build_id}-{number}"
        spec = {
            "task": task.to_data(),
            "number": number,
            "log_path": os.path.abspath(log_path),
            "root": self.root,
            "version": __version__,
            "grace": self.grace,
            "claim": f"{key}-claim",
        }
        offset = 0
        if on_line is not None:
            if number == 1:
                open_log(log_path, fresh=True).close()  # don't stream the previous run's log
            offset = _size(log_path)
        future = self.client.submit(
            remote.execute,
            spec,
            self.cancel_name,
            key=key,
            pure=False,
            resources=resources or None,
            retries=0,
        )
        with self._lock:
            self._futures[key] = future
        try:
            finished = threading.Event()
            future.add_done_callback(lambda _: finished.set())
            while not finished.wait(TAIL_EVERY if on_line else None):
                offset = _tail(log_path, offset, task.name, on_line)
            try:
                result = future.result()
            finally:
                if on_line is not None:
                    _tail(log_path, offset, task.name, on_line, final=True)
        except _CANCELLED as error:  # FutureCancelledError (with a reason) from 2024.2 on
            if getattr(error, "reason", None) == "scheduler-connection-lost" or not self._stopping:
                raise self._lost()
            return Attempt(number, 130, started, time.time() - started, interrupted=True)
        except distributed.scheduler.KilledWorker as error:
            # Only when the scheduler's allowed-failures is 0; see remote.execute otherwise.
            dead = getattr(getattr(error, "last_worker", None), "address", None)
            message = f"worker died: {dead or _short(error)}"
            _write_log(log_path, f"dagmake: dask {message} while running this task\n")
            return Attempt(number, -9, started, time.time() - started, error=message)
        except Exception as error:
            if self.client.status not in ("running", "newly-created"):
                raise self._lost()
            message = f"dask error: {type(error).__name__}: {_short(error)}"
            _write_log(log_path, f"dagmake: {message}\n", fresh=number == 1)
            return Attempt(number, 1, started, time.time() - started, error=message)
        finally:
            with self._lock:
                self._futures.pop(key, None)
            self._forget(spec["claim"])
        if result.get("lost"):
            message = f"worker died: {result['lost']}"
            _write_log(log_path, f"dagmake: dask {message} while running this task\n")
            return Attempt(number, -9, started, time.time() - started, error=message)
        if result.get("refused"):  # the worker could not even start it: say so in the log
            _write_log(log_path, f"dagmake: {result['error']}\n", fresh=number == 1)
        return Attempt(
            number,
            result["exit_code"],
            result["started"],
            result["seconds"],
            timed_out=result.get("timed_out", False),
            interrupted=result.get("interrupted", False),
            error=result.get("error"),
        )

    def missing_resource(self, resources: dict) -> str | None:
        """Why no worker can run a task asking for resources, or None if one can."""
        if not resources:
            return None
        workers = self._workers().values()
        for worker in workers:
            offered = worker.get("resources") or {}
            if all(offered.get(name, 0) >= amount for name, amount in resources.items()):
                return None
        asked = ", ".join(f"{name}={amount:g}" for name, amount in resources.items())
        offers = sorted(
            {
                ", ".join(f"{n}={a:g}" for n, a in sorted((w.get("resources") or {}).items()))
                or "nothing"
                for w in workers
            }
        )
        return f"no dask worker offers resources {asked} (workers offer: {'; '.join(offers)})"

    def terminate_all(self) -> None:
        """Ask every running attempt to stop: workers TERM, then KILL, its process group."""
        self._stopping = True
        if self._cancel is None or self.client is None or self.client.status != "running":
            return  # without a scheduler, workers stop the commands themselves (remote._watch)
        try:
            self._cancel.set()
        except Exception:  # the scheduler is gone
            pass

    def kill_all(self) -> None:
        """Stop waiting: cancel the futures (workers kill the groups after the grace period)."""
        self.terminate_all()
        with self._lock:
            futures = list(self._futures.values())
        if futures and self.client is not None:
            try:
                self.client.cancel(futures, force=True)
            except Exception:
                pass

    def close(self) -> None:
        """Forget the build's cancel event and disconnect (stopping a local cluster)."""
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        # Shutting down cancels what a worker still waits on (the cancel event), which the
        # scheduler logs as an ERROR with a traceback: nothing a user need see.
        _quiet(logging.CRITICAL)
        if client is not None:
            try:
                if client.status == "running" and self._cancel is not None:
                    self._cancel.clear()
            except Exception:
                pass
            try:
                client.close(timeout=5)
            except Exception:
                pass
        if cluster is not None:
            try:
                cluster.close(timeout=5)
            except Exception:
                pass

    def _forget(self, claim: str) -> None:
        """Drop an attempt's claim from the scheduler (a cleared Event is deleted there)."""
        if self.client is None or self.client.status != "running":
            return
        try:
            distributed.Event(claim, client=self.client).clear()
            distributed.Variable(claim, client=self.client).delete()
        except Exception:
            pass

    def _lost(self) -> ExecutorError:
        _quiet()  # our message says it; Dask's reconnect tracebacks would bury it
        return ExecutorError(
            f"lost connection to dask scheduler {self.where}; build aborted",
            hint="tasks that finished are recorded; run dagmake again to continue",
        )


_HINTS = {
    "version": f"install the same dagmake ({__version__}) on every worker",
    "shared": "the project directory must be on a filesystem every worker mounts at the same path",
    "marker": "the project directory must be on a filesystem every worker mounts at the same path",
}


def worker_problem(probes: dict, root: str) -> tuple[str, str] | None:
    """The first problem, as (kind, message), in {worker address: probe() or exception}."""
    for address, seen in sorted(probes.items()):
        if isinstance(seen, BaseException):
            if isinstance(seen, ImportError) or "dagmake" in str(seen):
                return "version", f"dask worker {address} cannot run dagmake: {_short(seen)}"
            return "check", f"dask worker {address} failed a check: {_short(seen)}"
        if seen["version"] != __version__:
            return "version", (
                f"dask worker {address} ({seen['host']}) runs dagmake {seen['version']}, "
                f"this is dagmake {__version__}"
            )
    for address, seen in sorted(probes.items()):
        if not seen["root"]:
            return "shared", (
                f"dask worker {address} ({seen['host']}) cannot see the project directory {root}"
            )
        if not seen["marker"]:
            return "marker", (
                f"dask worker {address} ({seen['host']}) cannot see the files in {root}: "
                "a different directory has that path there"
            )
    return None


def _quiet(level: int = logging.CRITICAL) -> None:
    """Raise the level of Dask's loggers (its INFO and tracebacks are not for dagmake's users)."""
    for name in ["distributed", *logging.root.manager.loggerDict]:
        if name == "distributed" or name.startswith("distributed."):
            logger = logging.getLogger(name)
            logger.setLevel(max(logger.level, level))


def address_problem(address: str) -> str | None:
    """What is wrong with a scheduler address Dask could never connect to, or None.

    Distributed finds a missing port or an unknown scheme only while connecting, and
    retries until its timeout (40 s), then leaves a traceback behind."""
    from distributed.comm import registry
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        registry.get_backend(scheme)
        if scheme in ("tcp", "tls", "ws", "wss"):
            parse_host_port(location)
    except ValueError as error:
        return _short(error)
    return None


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _tail(path: str, offset: int, name: str, on_line, final: bool = False) -> int:
    """Send the complete new lines of a log to on_line; return the new offset."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return offset
    if not final:
        data = data[: data.rfind(b"\n") + 1]
    for raw in data.splitlines():
        on_line(name, raw.decode("utf-8", "replace"))
    return offset + len(data)


def _write_log(path: str, text: str, *, fresh: bool = False) -> None:
    """Add a dagmake line to a task's log (fresh: replace the previous run's log)."""
    try:
        with open_log(path, fresh=fresh) as log:
            log.write(text.encode())
    except OSError:
        pass
