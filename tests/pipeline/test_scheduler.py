"""The demo's stage scheduler: dependency order, resume, stages side by side in child processes, failures."""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

import pytest

from ervlight.pipeline.scheduler import Job, StageError, run_jobs
from ervlight.pipeline.stages import Stage


def write(name: str, needs: tuple[str, ...] = ()) -> None:
    """Write ``name`` in the current folder after checking that the outputs it needs are there."""
    missing = [need for need in needs if not Path(need).exists()]
    if missing:
        raise RuntimeError(f"{name} ran before {missing}")
    print(f"writing {name} in pid {os.getpid()}")
    Path(name).write_text(str(os.getpid()))


def meet(name: str, other: str) -> None:
    """Announce ``name``, wait (up to 60 s) for ``other`` to be announced, then write ``name``: it finishes only
    when the two run at the same time."""
    Path(f"{name}.started").touch()
    deadline = time.monotonic() + 60
    while not Path(f"{other}.started").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{other} never started beside {name}")
        time.sleep(0.05)
    Path(name).write_text(str(os.getpid()))


def fail() -> None:
    raise ValueError("the stage broke")


def sleep_then_write(name: str) -> None:
    time.sleep(120)
    Path(name).write_text("late")


def _stage(name: str, action: functools.partial[None], after: tuple[str, ...] = ()) -> Stage:
    return Stage(name, f"make {name}", Path(name), action, after)


def _job(folder: Path, stage: Stage) -> Job:
    return Job(stage.name, stage, folder, stage.after)


def test_one_worker_runs_in_order_in_this_process_and_resumes(tmp_path: Path) -> None:
    stages = [_stage("a", functools.partial(write, "a")),
              _stage("b", functools.partial(write, "b", ("a",)), ("a",))]  # fmt: skip
    (tmp_path / "a").write_text("before")  # already done: kept, not run again
    timings: dict[str, float] = {}
    messages: list[str] = []
    run_jobs([_job(tmp_path, s) for s in stages], 1, timings, messages.append)
    assert (tmp_path / "a").read_text() == "before"
    assert (tmp_path / "b").read_text() == str(os.getpid())
    assert set(timings) == {"b"}
    assert messages[:2] == ["[1/2] a: already done (a)", "[2/2] b: make b"]
    assert messages[2].startswith("[2/2] b: done in ")
    assert Path.cwd() != tmp_path


def test_independent_stages_run_side_by_side_and_dependents_wait(tmp_path: Path) -> None:
    stages = [_stage("left", functools.partial(meet, "left", "right")),
              _stage("right", functools.partial(meet, "right", "left")),
              _stage("joined", functools.partial(write, "joined", ("left", "right")), ("left", "right"))]  # fmt: skip
    timings: dict[str, float] = {}
    messages: list[str] = []
    run_jobs([_job(tmp_path, s) for s in stages], 2, timings, messages.append, logs=tmp_path / "logs")
    pids = {name: (tmp_path / name).read_text() for name in ("left", "right", "joined")}
    assert len(set(pids.values()) | {str(os.getpid())}) == 4  # three child processes, none of them this one
    assert set(timings) == {"left", "right", "joined"}
    assert messages[:2] == [f"[1/3] left: make left (output: {tmp_path / 'logs' / 'left.log'})",
                            f"[2/3] right: make right (output: {tmp_path / 'logs' / 'right.log'})"]  # fmt: skip
    assert (tmp_path / "logs" / "joined.log").read_text() == f"writing joined in pid {pids['joined']}\n"


def test_a_failing_stage_stops_the_others_and_names_its_log(tmp_path: Path) -> None:
    stages = [_stage("slow", functools.partial(sleep_then_write, "slow")),
              _stage("broken", functools.partial(fail)),
              _stage("after", functools.partial(write, "after"), ("broken",))]  # fmt: skip
    start = time.perf_counter()
    with pytest.raises(
        StageError, match="demo stage 'broken' failed \\(exit code 1\\); its output: "
    ) as caught:
        run_jobs([_job(tmp_path, s) for s in stages], 2, {}, lambda _: None, logs=tmp_path / "logs")
    assert time.perf_counter() - start < 60  # the sleeper was stopped, not waited for
    assert caught.value.code == 1
    log = (tmp_path / "logs" / "broken.log").read_text()
    assert log.rstrip().endswith("ValueError: the stage broke")
    assert not (tmp_path / "slow").exists()
    assert not (tmp_path / "after").exists()


def test_a_stage_that_writes_nothing_fails_side_by_side_too(tmp_path: Path) -> None:
    silent = Stage("silent", "writes nothing", Path("nothing"), functools.partial(print, "hello"))
    with pytest.raises(StageError, match="demo stage 'silent' failed \\(exit code 1\\)"):
        run_jobs([_job(tmp_path, silent)], 2, {}, lambda _: None, logs=tmp_path / "logs")
    log = (tmp_path / "logs" / "silent.log").read_text()
    assert log.startswith("hello\n")
    assert log.rstrip().endswith("RuntimeError: demo stage 'silent' finished without writing nothing")


def test_plans_that_cannot_run_are_refused(tmp_path: Path) -> None:
    a = _stage("a", functools.partial(write, "a"))
    b = _stage("b", functools.partial(write, "b"), ("a",))
    with pytest.raises(
        ValueError, match="demo stage 'b' waits for \\['a'\\], which are not listed before it"
    ):
        run_jobs([_job(tmp_path, b), _job(tmp_path, a)], 1, {}, lambda _: None)
    with pytest.raises(ValueError, match="two demo stages are named 'a'"):
        run_jobs([_job(tmp_path, a), _job(tmp_path, a)], 1, {}, lambda _: None)
    with pytest.raises(ValueError, match="workers must be >= 1, got 0"):
        run_jobs([_job(tmp_path, a)], 0, {}, lambda _: None)
    with pytest.raises(ValueError, match="running stages side by side needs a folder for their logs"):
        run_jobs([_job(tmp_path, a)], 2, {}, lambda _: None)
    assert not (tmp_path / "a").exists()
