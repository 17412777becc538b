"""The LLM judge against a fake OpenAI-compatible server on 127.0.0.1: answers, faults, retries, cache, secrets."""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from jsonargparse import ArgumentParser

from ervlight.evaluation.judge import Judge
from ervlight.evaluation.llm_judge import REFERENCE_PROMPT, LLMJudge, LLMJudgeError

KEY_ENV = "ERVLIGHT_TEST_JUDGE_KEY"
SECRET = "sk-test-0123456789-secret"

# A behaviour per try, keyed by the rationale (the text after the blank line of the user message):
# "ok:<reply>", "status:<code>", "busy:<Retry-After>" (a 429), "garbage" (an HTML error page),
# "slow:<reply>" (answers after the client's timeout), "wait:<reply>" (answers after 0.1 s),
# "echo:<code>" (status <code> whose body repeats the request headers), "drip" (a 200 whose body comes one byte
# per 0.5 s, for 10 s).
Script = dict[str, list[str]]


class FakeChatServer:
    """A chat-completions endpoint that plays a script and records every request."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.tries: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def count(self, rationale: str) -> int:
        return self.tries[rationale]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                rationale = body["messages"][0]["content"].split("\n\n", 1)[1]
                with server.lock:
                    server.requests.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    attempt = server.tries[rationale]
                    server.tries[rationale] += 1
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                steps = server.script[rationale]
                try:
                    self._play(steps[min(attempt, len(steps) - 1)], body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def _play(self, step: str, body: dict[str, Any]) -> None:
                kind, _, arg = step.partition(":")
                if kind == "status":
                    self._send(int(arg), b'{"error": {"message": "scripted failure"}}')
                elif kind == "busy":
                    self._send(429, b'{"error": {"message": "slow down"}}', {"Retry-After": arg})
                elif kind == "garbage":
                    self._send(200, b"<html>502 Bad Gateway</html>")
                elif kind == "echo":
                    self._send(int(arg), json.dumps({"error": {"you_sent": dict(self.headers)}}).encode())
                elif kind == "drip":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "20")
                    self.end_headers()
                    for _ in range(20):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.5)
                else:
                    if kind in ("slow", "wait"):
                        time.sleep(0.6 if kind == "slow" else 0.1)
                    reply = {"choices": [{"index": 0, "message": {"role": "assistant", "content": arg}}]}
                    reply["model"] = body["model"]
                    self._send(200, json.dumps(reply).encode())

            def _send(self, code: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


@pytest.fixture
def serve() -> Iterator[Callable[[Script], FakeChatServer]]:
    servers: list[FakeChatServer] = []

    def start(script: Script) -> FakeChatServer:
        server = FakeChatServer(script)
        server.thread.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.httpd.shutdown()
        server.httpd.server_close()


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)  # loopback only, never through a proxy


def make_judge(server: FakeChatServer, cache_dir: Path, **overrides: Any) -> LLMJudge:
    options: dict[str, Any] = {
        "model": "judge-mini",
        "api_key_env": KEY_ENV,
        "timeout_s": 0.3,
        "max_retries": 2,
        "backoff_s": 0.01,
        "max_backoff_s": 0.05,
        "cache_dir": cache_dir,
        "progress": False,
    }
    return LLMJudge(server.base_url, **{**options, **overrides})


def test_answers_are_normalised_and_out_of_list_replies_are_unjudged(serve, tmp_path: Path) -> None:
    server = serve(
        {"r1": ["ok:Sad."], "r2": ["ok:happiness"], "r3": ["ok:joy"], "r4": ["ok:The emotion is fear"]}
    )
    judge = make_judge(server, tmp_path)
    assert isinstance(judge, Judge)
    assert judge.name == "llm:judge-mini"
    assert judge.judge(["r1", "r2", "r3", "r4", "r1"], "dfew") == ["sad", "happy", None, None, "sad"]
    stats = judge.last_stats
    assert (stats.rationales, stats.requests, stats.cache_hits, stats.out_of_list, stats.failures) == (
        5,
        4,
        0,
        2,
        0,
    )
    body = next(b for b in server.requests if b["messages"][0]["content"].endswith("\n\nr1"))
    assert body["model"] == "judge-mini"
    assert body["temperature"] == 0.0
    assert body["max_tokens"] == 16
    labels = "[happy, sad, neutral, angry, surprise, disgust, fear]"
    assert body["messages"] == [
        {"role": "user", "content": REFERENCE_PROMPT.replace("{labels}", labels) + "\n\nr1"}
    ]
    assert server.headers[0]["authorization"] == f"Bearer {SECRET}"


def test_cache_hits_send_nothing_and_the_key_covers_endpoint_model_and_prompt(serve, tmp_path: Path) -> None:
    server = serve({"a": ["ok:anger"], "b": ["ok:contempt"]})
    assert make_judge(server, tmp_path).judge(["a", "b"], "mafw") == ["anger", "contempt"]
    assert len(server.requests) == 2
    rerun = make_judge(server, tmp_path)  # a fresh judge: only the disk cache is shared
    assert rerun.judge(["a", "b"], "mafw") == ["anger", "contempt"]
    assert len(server.requests) == 2
    assert (rerun.last_stats.cache_hits, rerun.last_stats.requests) == (2, 0)
    make_judge(server, tmp_path, model="other-model").judge(["a"], "mafw")
    make_judge(server, tmp_path, prompt="Emotion in {labels}?").judge(["a"], "mafw")
    make_judge(server, tmp_path).judge(["a"], "dfew")  # another label list, so another prompt
    assert len(server.requests) == 5
    assert len(list(tmp_path.rglob("*.json"))) == 5


def test_5xx_then_success_is_retried(serve, tmp_path: Path) -> None:
    server = serve({"x": ["status:503", "status:500", "ok:surprise"], "y": ["status:429", "ok:fear"]})
    judge = make_judge(server, tmp_path)
    assert judge.judge(["x", "y"], "dfew") == ["surprise", "fear"]
    assert (server.count("x"), server.count("y")) == (3, 2)
    assert (judge.last_stats.retries, judge.last_stats.failures) == (3, 0)


def test_timeout_then_success_is_retried(serve, tmp_path: Path) -> None:
    server = serve({"t": ["slow:angry", "ok:angry"]})
    judge = make_judge(server, tmp_path)
    assert judge.judge(["t"], "dfew") == ["angry"]
    assert server.count("t") == 2
    assert judge.last_stats.retries == 1


def test_persistent_faults_leave_rationales_unjudged_and_uncached(serve, tmp_path: Path, caplog) -> None:
    server = serve({"g": ["garbage"], "s": ["status:502"], "ok": ["ok:neutral"]})
    judge = make_judge(server, tmp_path)
    with caplog.at_level(logging.WARNING, logger="ervlight.evaluation.llm_judge"):
        assert judge.judge(["g", "s", "ok"], "dfew") == [None, None, "neutral"]
    assert (server.count("g"), server.count("s")) == (3, 3)  # first try + 2 retries
    assert (judge.last_stats.failures, judge.last_stats.out_of_list) == (2, 0)
    assert "2 request(s)" in caplog.text
    assert "unjudged" in caplog.text
    judge.judge(["g", "ok"], "dfew")  # failures are not cached: asked again; the success is
    assert (server.count("g"), server.count("ok")) == (6, 1)
    with pytest.raises(LLMJudgeError, match=r"HTTP 502 .* \(after 2 retries\)"):
        make_judge(server, tmp_path, raise_on_failure=True).judge(["s"], "dfew")


def test_client_errors_stop_at_once_without_leaking_the_key(serve, tmp_path: Path, caplog) -> None:
    server = serve({"u": ["status:401"], "n": ["status:404"]})
    with caplog.at_level(logging.DEBUG), pytest.raises(LLMJudgeError, match="HTTP 401") as error:
        make_judge(server, tmp_path).judge(["u"], "dfew")
    assert server.count("u") == 1
    with pytest.raises(LLMJudgeError, match=r'HTTP 404 .*: \{"error": \{"message": "scripted failure"\}\}'):
        make_judge(server, tmp_path).judge(["n"], "dfew")
    assert SECRET not in str(error.value)
    assert SECRET not in caplog.text


def test_key_variable_is_needed_only_for_requests_and_never_written(serve, tmp_path, monkeypatch) -> None:
    server = serve({"k": ["ok:disgust"], "new": ["ok:sad"]})
    judge = make_judge(server, tmp_path)
    assert judge.judge(["k"], "dfew") == ["disgust"]
    assert all(SECRET not in path.read_text() for path in tmp_path.rglob("*") if path.is_file())
    assert SECRET not in repr(vars(judge))
    monkeypatch.delenv(KEY_ENV)
    assert judge.judge(["k"], "dfew") == ["disgust"]  # cached: no key needed
    with pytest.raises(LLMJudgeError, match=f"environment variable {KEY_ENV} \\(the API key\\) is not set"):
        judge.judge(["new"], "dfew")
    keyless = make_judge(server, tmp_path, api_key_env=None)
    assert keyless.judge(["new"], "dfew") == ["sad"]
    assert "authorization" not in server.headers[-1]


def test_concurrency_limit(serve, tmp_path: Path) -> None:
    script = {f"c{i}": ["wait:fear"] for i in range(6)}
    server = serve(script)
    assert make_judge(server, tmp_path, max_concurrency=2).judge(list(script), "dfew") == ["fear"] * 6
    assert 1 <= server.max_in_flight <= 2
    serial = serve({f"s{i}": ["wait:fear"] for i in range(3)})
    make_judge(serial, tmp_path, max_concurrency=1).judge(["s0", "s1", "s2"], "dfew")
    assert serial.max_in_flight == 1


def test_no_rationales_no_requests(serve, tmp_path: Path) -> None:
    server = serve({})
    assert make_judge(server, tmp_path).judge([], "dfew") == []
    assert server.requests == []


def test_invalid_configuration() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        LLMJudge("http://127.0.0.1:1/v1", "m", prompt="no labels here")
    with pytest.raises(ValueError, match="max_concurrency >= 1"):
        LLMJudge("http://127.0.0.1:1/v1", "m", max_concurrency=0)


def test_backoff_doubles_and_honours_retry_after_up_to_the_cap(serve, tmp_path, monkeypatch) -> None:
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr("ervlight.evaluation.llm_judge._pause", record)
    server = serve({"e": ["status:503"] * 3 + ["ok:sad"], "b": ["busy:0.5", "busy:120", "ok:sad"]})
    judge = make_judge(server, tmp_path, backoff_s=0.1, max_backoff_s=10.0, max_retries=3)
    assert judge.judge(["e"], "dfew") == ["sad"]
    # Delay of retry k: backoff_s * 2**k times a jitter in [0.5, 1].
    assert [0.05 <= sleeps[0] <= 0.1, 0.1 <= sleeps[1] <= 0.2, 0.2 <= sleeps[2] <= 0.4] == [True] * 3
    sleeps.clear()
    assert judge.judge(["b"], "dfew") == ["sad"]
    assert sleeps == [0.5, 10.0]  # Retry-After wins over a shorter backoff; the cap wins over Retry-After


def test_unreachable_endpoint_leaves_rationales_unjudged(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    judge = LLMJudge(
        f"http://127.0.0.1:{port}/v1", "m", api_key_env=None, max_retries=1, backoff_s=0.01, cache_dir=tmp_path,
        progress=False,
    )  # fmt: skip
    assert judge.judge(["a", "b"], "mafw") == [None, None]
    assert (judge.last_stats.requests, judge.last_stats.failures) == (4, 2)
    assert list(tmp_path.rglob("*.json")) == []


def test_judge_is_configurable_by_class_path() -> None:
    parser = ArgumentParser()
    parser.add_argument("--judge", type=Judge)
    config = parser.parse_args(
        ["--judge", json.dumps({
            "class_path": "ervlight.evaluation.llm_judge.LLMJudge",
            "init_args": {"base_url": "http://127.0.0.1:8000/v1/", "model": "judge-mini", "max_concurrency": 2},
        })]
    )  # fmt: skip
    judge = parser.instantiate(config).judge
    assert isinstance(judge, LLMJudge)
    assert (judge.endpoint, judge.max_concurrency, judge.api_key_env) == (
        "http://127.0.0.1:8000/v1/chat/completions",
        2,
        "OPENAI_API_KEY",
    )


def _chain(error: BaseException) -> list[BaseException]:
    """The error and every exception chained to it (cause and context)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        item = todo.pop()
        if item is not None and all(item is not other for other in seen):
            seen.append(item)
            todo += [item.__cause__, item.__context__]
    return seen


def test_an_endpoint_echoing_the_headers_never_puts_the_key_in_errors_logs_or_files(serve, tmp_path, caplog):
    server = serve({"e400": ["echo:400"], "e500": ["echo:500"], "e200": ["echo:200"]})
    with caplog.at_level(logging.DEBUG), pytest.raises(LLMJudgeError, match="HTTP 400") as error:
        make_judge(server, tmp_path).judge(["e400"], "dfew")
    assert server.headers[0]["authorization"] == f"Bearer {SECRET}"  # the echo really holds the key
    assert "Bearer [redacted]" in str(error.value)  # the body is shown, redacted
    # a 5xx echo is retried then given up; a 200 echo is an unreadable reply (its excerpt is shown)
    for rationale, expected in (("e500", "HTTP 500"), ("e200", "unreadable reply")):
        with caplog.at_level(logging.DEBUG), pytest.raises(LLMJudgeError, match=expected) as failure:
            make_judge(server, tmp_path, raise_on_failure=True).judge([rationale], "dfew")
        assert (server.count(rationale), SECRET in str(failure.value)) == (3, False)
    for chained in _chain(error.value) + _chain(failure.value):
        assert SECRET not in str(chained)
        assert SECRET not in repr(chained)
        assert SECRET not in repr(vars(chained))
    assert SECRET not in caplog.text
    assert all(SECRET not in path.read_text() for path in tmp_path.rglob("*") if path.is_file())


def test_failed_and_out_of_list_judgements_are_told_apart(serve, tmp_path: Path) -> None:
    server = serve({"ok": ["ok:sad"], "odd": ["ok:purple"], "down": ["status:503"]})
    judge = make_judge(server, tmp_path, max_retries=0)
    assert judge.judge(["ok", "odd", "down"], "dfew") == ["sad", None, None]
    reasons = [judge.unjudged_reason(r, "dfew") for r in ("ok", "odd", "down")]
    assert reasons == [None, "out_of_list", "failed"]
    assert (judge.last_stats.out_of_list, judge.last_stats.failures) == (1, 1)
    assert judge.unjudged_reason("odd", "mafw") is None  # asked per dataset


def test_a_dripping_reply_is_cut_at_the_total_deadline(serve, tmp_path: Path) -> None:
    server = serve({"d": ["drip"]})
    judge = make_judge(server, tmp_path, timeout_s=1.0, max_retries=0)
    start = time.perf_counter()
    assert judge.judge(["d"], "dfew") == [None]
    elapsed = time.perf_counter() - start
    assert 0.9 <= elapsed < 2.0  # the server would take 10 s; each byte arrives within the read timeout
    assert (judge.last_stats.requests, judge.last_stats.failures) == (1, 1)
    assert judge.unjudged_reason("d", "dfew") == "failed"


def test_judging_from_inside_a_running_event_loop(serve, tmp_path: Path) -> None:
    import asyncio

    server = serve({"n": ["ok:neutral"]})
    judge = make_judge(server, tmp_path)

    async def notebook_cell() -> list[str | None]:
        return judge.judge(["n"], "dfew")

    assert asyncio.run(notebook_cell()) == ["neutral"]


def test_without_the_sdk_one_line_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # import openai now raises ImportError
    with pytest.raises(
        LLMJudgeError, match=r"^LLMJudge needs the openai SDK: pip install 'ervlight\[judge\]'$"
    ):
        LLMJudge("http://127.0.0.1:1/v1", "m")


def test_predictions_csv_says_failed_or_out_of_list(serve, tmp_path: Path) -> None:
    import csv

    from ervlight.evaluation.predictions import PredictionRecord
    from ervlight.evaluation.report import build_report

    server = serve({"fine": ["ok:sad"], "odd": ["ok:purple"], "down": ["status:503"]})
    judge = make_judge(server, tmp_path / "cache", max_retries=0)
    records = [
        PredictionRecord(clip, "dfew", 1, "sad", f"<think>{rationale}</think><answer>sad</answer>")
        for clip, rationale in (("a", "fine"), ("b", "odd"), ("c", "down"))
    ]
    records.append(PredictionRecord("d", "dfew", 1, "sad", "no tags at all"))
    out = tmp_path / "report"
    build_report(records, [judge], out, name="toy", tensorboard=False)
    with (out / "predictions.csv").open(newline="") as handle:
        cells = [row["judge:llm:judge-mini"] for row in csv.DictReader(handle)]
    assert cells == ["sad", "out_of_list", "failed", ""]  # "d" has no rationale: nothing to judge
