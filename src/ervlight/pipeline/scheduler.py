"""Run the demo's stages in dependency order, one at a time in this process or several at once in child processes.

Every stage is deterministic on its own (seeded, one torch thread, deterministic algorithms), so running two
independent stages side by side — the reward verifier beside perception and SFT, the baseline beside ERV — changes
their wall time, never their bytes. With ``workers > 1`` each stage runs in a spawned child process whose output
(progress bars, Lightning's messages, a traceback) goes to ``<logs>/<stage>.log``; this process prints when each
stage starts and ends. A stage that fails stops the others (they get SIGTERM) and the run raises, naming the stage
and its log.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from ervlight.pipeline.stages import Stage

__all__ = ["Job", "StageError", "inside", "pin_torch", "run_jobs"]

#: Seconds a stopped child gets to exit after SIGTERM before it is killed.
STOP_GRACE_S = 30.0


@dataclass(frozen=True)
class Job:
    """One stage to run in ``folder``: ``key`` names it in messages and timings (unique in a run), ``after`` lists
    the keys of the jobs whose outputs it reads."""

    key: str
    stage: Stage
    folder: Path
    after: tuple[str, ...] = ()

    def done(self) -> bool:
        """Whether the stage's output exists in the job's folder (a finished stage is not run again)."""
        return (self.folder / self.stage.output).exists()


class StageError(RuntimeError):
    """A stage run in a child process exited with a non-zero code (``code``)."""

    def __init__(self, key: str, code: int, log: Path) -> None:
        super().__init__(f"demo stage {key!r} failed (exit code {code}); its output: {log}")
        self.code = code


@contextmanager
def inside(folder: Path) -> Iterator[None]:
    """Run with ``folder`` as the working directory (the configs' relative paths then land in it)."""
    previous = Path.cwd()
    folder.mkdir(parents=True, exist_ok=True)
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def pin_torch(threads: int) -> None:
    """Fixed torch threads and deterministic algorithms: the same sums in the same order on every run."""
    import torch

    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _check_plan(jobs: list[Job]) -> None:
    """``ValueError`` when keys repeat or a job waits for an unknown job or one listed after it (a cycle)."""
    seen: set[str] = set()
    for job in jobs:
        if job.key in seen:
            raise ValueError(f"two demo stages are named {job.key!r}")
        unknown = [key for key in job.after if key not in seen]
        if unknown:
            raise ValueError(f"demo stage {job.key!r} waits for {unknown}, which are not listed before it")
        seen.add(job.key)


def run_jobs(
    jobs: list[Job],
    workers: int,
    timings: dict[str, float],
    log: Callable[[str], None],
    *,
    threads: int = 1,
    logs: Path | None = None,
) -> None:
    """Run every job whose stage is not done yet, each after the jobs it waits for, timing each in ``timings``.

    ``jobs`` are listed in an order that runs them one by one (every job after those it waits for). With
    ``workers == 1`` they run in that order in this process; with more, up to ``workers`` run at once in child
    processes (torch pinned to ``threads`` threads there), their output written to ``logs/<key>.log``.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers > 1 and logs is None:
        raise ValueError("running stages side by side needs a folder for their logs")
    _check_plan(jobs)
    total = len(jobs)
    label = {job.key: f"[{number}/{total}] {job.key}" for number, job in enumerate(jobs, start=1)}
    pending = []
    for job in jobs:
        if job.done():
            log(f"{label[job.key]}: already done ({job.stage.output})")
        else:
            pending.append(job)
    if workers == 1:
        for job in pending:
            log(f"{label[job.key]}: {job.stage.description}")
            start = time.perf_counter()
            with inside(job.folder):
                job.stage.run()
            timings[job.key] = round(time.perf_counter() - start, 1)
            log(f"{label[job.key]}: done in {timings[job.key]:.0f} s")
        return
    assert logs is not None  # checked above
    _run_side_by_side(pending, workers, timings, log, label, threads, logs)


def _log_path(logs: Path, key: str) -> Path:
    """Where a child's output goes (``seed 1 erv`` -> ``seed_1_erv.log``)."""
    return logs / f"{key.replace(' ', '_')}.log"


def _exit_code(process: BaseProcess) -> int:
    """A finished child's exit code as a shell reports it (killed by signal N: 128 + N)."""
    code = process.exitcode or 0
    return code if code >= 0 else 128 - code


def _run_side_by_side(
    pending: list[Job],
    workers: int,
    timings: dict[str, float],
    log: Callable[[str], None],
    label: dict[str, str],
    threads: int,
    logs: Path,
) -> None:
    """The ``workers > 1`` loop: start the ready jobs in list order, wait for any to end, repeat."""
    logs.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")
    waiting = list(pending)
    unfinished = {job.key for job in pending}
    running: dict[int, tuple[Job, BaseProcess, float]] = {}  # sentinel -> job, its process, start time
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        while waiting or running:
            for job in [j for j in waiting if not unfinished.intersection(j.after)][: workers - len(running)]:
                waiting.remove(job)
                child = context.Process(
                    target=_child,
                    args=(job.stage, job.folder, threads, _log_path(logs, job.key)),
                    name=job.key,
                )
                child.start()
                running[child.sentinel] = (job, child, time.perf_counter())
                log(f"{label[job.key]}: {job.stage.description} (output: {_log_path(logs, job.key)})")
            if not running:
                raise ValueError(f"demo stages {[j.key for j in waiting]} wait for stages that never run")
            for sentinel in wait(list(running)):
                job, process, start = running.pop(int(sentinel))  # type: ignore[arg-type]
                process.join()
                if _exit_code(process) != 0:  # Stage.run raised there, also for a missing output
                    raise StageError(job.key, _exit_code(process), _log_path(logs, job.key))
                unfinished.discard(job.key)
                timings[job.key] = round(time.perf_counter() - start, 1)
                log(f"{label[job.key]}: done in {timings[job.key]:.0f} s")
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop([process for _, process, _ in running.values()])


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM while stages run side by side: leave through ``SystemExit(143)`` so the children are stopped."""
    raise SystemExit(128 + signum)


def _stop(processes: list[BaseProcess]) -> None:
    """SIGTERM to every live child, then wait for them (killing those that outlive :data:`STOP_GRACE_S`)."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


def _child(stage: Stage, folder: Path, threads: int, log_path: Path) -> None:
    """A child process: output to ``log_path`` (file descriptors 1 and 2, so native code's output too), torch
    pinned, the stage run in ``folder``. An exception ends it with exit code 1 and its traceback in the log
    (multiprocessing's own handling); ``SystemExit`` keeps its code."""
    with open(log_path, "w", encoding="utf-8") as handle:
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
    sys.stdout = open(1, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115 - lives with the process
    sys.stderr = open(2, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115
    pin_torch(threads)
    os.chdir(folder)
    stage.run()
