"""An LLM judge for any OpenAI-compatible chat-completions endpoint, using only the standard library for HTTP.

The judge sends the reference prompt (method.md "Evaluation") plus one rationale per request, normalises the reply
with the dataset's :meth:`LabelSpace.normalize`, and returns ``None`` ("unjudged") for a reply outside the label
list or a request that still fails after its retries. Replies are cached on disk (:class:`ResponseCache`), so a
re-run sends nothing. The API key is read from the environment variable NAMED by ``api_key_env`` when a request
is needed; it is never stored on the judge, logged, cached or put in an error message.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ervlight.errors import UserError
from ervlight.evaluation.response_cache import ResponseCache, default_cache_dir
from ervlight.labels import get_label_space

__all__ = ["REFERENCE_PROMPT", "JudgeStats", "LLMJudge", "LLMJudgeError"]

logger = logging.getLogger(__name__)

#: The reference judge instruction; ``{labels}`` becomes ``[label, label, …]`` and the rationale follows it.
REFERENCE_PROMPT = (
    "Read the reasoning content and respond with the appropriate emotion in {labels}. "
    "Reply with only the emotion word."
)
_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
_NO_BODY_STATUS = frozenset({401, 403})  # auth replies may echo a masked key: never repeat them


class LLMJudgeError(UserError, RuntimeError):
    """A configuration or endpoint error that retrying cannot fix (missing key variable, HTTP 4xx, …)."""


class _TransientError(Exception):
    """A failure worth retrying (timeout, connection error, 5xx/429, unreadable reply)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class JudgeStats:
    """What the last :meth:`LLMJudge.judge` call did.

    Attributes:
        rationales: rationales asked about (duplicates included).
        cache_hits: distinct rationales answered from the disk cache.
        requests: HTTP requests sent (tries, retries included).
        retries: tries repeated after a transient failure.
        failures: distinct rationales still failing after every retry (unjudged).
        out_of_list: rationales whose reply named no label of the list (unjudged).
    """

    rationales: int = 0
    cache_hits: int = 0
    requests: int = 0
    retries: int = 0
    failures: int = 0
    out_of_list: int = 0


class LLMJudge:
    """Judge rationales with an LLM behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        base_url: the API root, e.g. ``https://api.openai.com/v1`` or ``http://127.0.0.1:8000/v1``.
        model: the model name sent in each request (the reference used ``gpt-4.1-mini``).
        api_key_env: NAME of the environment variable holding the API key; ``None`` sends no key (local servers).
        prompt: the instruction; ``{labels}`` is replaced by the dataset's label list, the rationale follows after
            a blank line, all in one user message.
        temperature: sampling temperature of the judge (0 for repeatable answers).
        max_tokens: reply length limit; ``None`` leaves it to the server.
        extra_body: further request fields (``seed``, ``top_p``…); they are part of the cache key.
        timeout_s: per-request timeout in seconds.
        max_retries: retries after the first try for timeouts, connection errors, HTTP 408/409/425/429/5xx and
            unreadable replies; then the rationale is unjudged.
        backoff_s: first retry delay; doubles each retry (with jitter), capped by ``max_backoff_s``; a numeric
            ``Retry-After`` header is honoured up to the cap.
        max_backoff_s: longest wait between two tries.
        max_concurrency: most requests in flight at once.
        cache_dir: where replies are cached; ``None`` = :func:`default_cache_dir`.
        use_cache: read and write the cache.
        raise_on_failure: raise :class:`LLMJudgeError` when a request still fails after its retries, instead of
            counting the rationale unjudged.
        name: the judge's name in reports; default ``llm:<model>``.
        progress: show a progress bar over the requests.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = "OPENAI_API_KEY",
        prompt: str = REFERENCE_PROMPT,
        temperature: float = 0.0,
        max_tokens: int | None = 16,
        extra_body: dict[str, Any] | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        max_concurrency: int = 4,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
        raise_on_failure: bool = False,
        name: str | None = None,
        progress: bool = True,
    ) -> None:
        if max_concurrency < 1 or max_retries < 0 or timeout_s <= 0:
            raise ValueError("LLMJudge needs max_concurrency >= 1, max_retries >= 0 and timeout_s > 0")
        if "{labels}" not in prompt:
            raise ValueError("LLMJudge prompt must contain the placeholder {labels}")
        self.endpoint = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.prompt = prompt
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.extra_body = dict(extra_body or {})
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_concurrency = max_concurrency
        cache_root = cache_dir if cache_dir is not None else default_cache_dir()
        self.cache = ResponseCache(cache_root) if use_cache else None
        self.raise_on_failure = raise_on_failure
        self.name = name or f"llm:{model}"
        self.progress = progress
        self.last_stats = JudgeStats()
        self._lock = threading.Lock()

    # -- the Judge protocol -------------------------------------------------------------------------------------
    def judge(self, rationales: list[str], dataset: str) -> list[str | None]:
        """Name one label of ``dataset`` per rationale, or ``None`` (reply outside the label list, or failure).

        Identical rationales are requested once; cached ones are not requested at all.
        """
        space = get_label_space(dataset)
        stats = self.last_stats = JudgeStats(rationales=len(rationales))
        bodies = {r: self.request_body(r, space.labels) for r in dict.fromkeys(rationales)}
        replies: dict[str, str | None] = {}
        misses: dict[str, dict[str, Any]] = {}
        for rationale, body in bodies.items():
            cached = self.cache.get(self._key(body)) if self.cache else None
            if cached is None:
                misses[rationale] = body
            else:
                replies[rationale] = cached
                stats.cache_hits += 1
        if misses:
            replies.update(self._fetch_all(misses))
        answers = [space.normalize(replies[r]) if replies[r] is not None else None for r in rationales]
        stats.out_of_list = sum(
            1
            for r, answer in zip(rationales, answers, strict=True)
            if answer is None and replies[r] is not None
        )
        if stats.failures:
            logger.warning(
                "LLM judge %s: %d request(s) to %s failed after %d retries; those rationales are unjudged",
                self.name, stats.failures, self.endpoint, self.max_retries,
            )  # fmt: skip
        return answers

    # -- requests -----------------------------------------------------------------------------------------------
    def request_body(self, rationale: str, labels: tuple[str, ...]) -> dict[str, Any]:
        """The JSON body sent for one rationale (also the cache key's content)."""
        instruction = self.prompt.replace("{labels}", "[" + ", ".join(labels) + "]")
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": f"{instruction}\n\n{rationale}"}],
            "temperature": self.temperature,
        }
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        return {**body, **self.extra_body}

    def _key(self, body: dict[str, Any]) -> str:
        return ResponseCache.key(self.endpoint, self.model, body)

    def _api_key(self) -> str | None:
        """The key from the configured variable (read only when a request is needed)."""
        if self.api_key_env is None:
            return None
        key = os.environ.get(self.api_key_env, "")
        if not key:
            raise LLMJudgeError(
                f"LLM judge {self.name}: environment variable {self.api_key_env} (the API key) is not set; set it, "
                "or configure api_key_env: null for an endpoint without authentication"
            )
        return key

    def _fetch_all(self, misses: dict[str, dict[str, Any]]) -> dict[str, str | None]:
        """Request every missing reply with at most ``max_concurrency`` in flight."""
        key = self._api_key()
        with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="llm-judge") as pool:
            futures = {r: pool.submit(self._fetch, body, key) for r, body in misses.items()}
            bar = tqdm(total=len(futures), desc=f"judge {self.name}", disable=not self.progress, leave=False)
            replies: dict[str, str | None] = {}
            try:
                for rationale, future in futures.items():
                    replies[rationale] = future.result()
                    bar.update()
            except BaseException:
                for future in futures.values():
                    future.cancel()
                raise
            finally:
                bar.close()
        return replies

    def _fetch(self, body: dict[str, Any], key: str | None) -> str | None:
        """One rationale's reply text with retries; cached on success; ``None`` once retries are spent."""
        for attempt in range(self.max_retries + 1):
            try:
                with self._lock:
                    self.last_stats.requests += 1
                content = self._post(body, key)
            except _TransientError as error:
                if attempt == self.max_retries:
                    self._give_up(error)
                    return None
                with self._lock:
                    self.last_stats.retries += 1
                time.sleep(self._delay(attempt, error.retry_after))
                continue
            if self.cache is not None:
                meta = {
                    "endpoint": self.endpoint,
                    "model": self.model,
                    "prompt": body["messages"][0]["content"],
                }
                self.cache.put(self._key(body), content, meta)
            return content
        raise AssertionError("unreachable")  # pragma: no cover

    def _give_up(self, error: _TransientError) -> None:
        """Count a request that failed all its tries; raise if configured so."""
        with self._lock:
            self.last_stats.failures += 1
        if self.raise_on_failure:
            raise LLMJudgeError(f"LLM judge {self.name}: {error} (after {self.max_retries} retries)")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter, or the server's Retry-After, capped at ``max_backoff_s``."""
        delay = self.backoff_s * (2**attempt) * (0.5 + random.random() / 2)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, self.max_backoff_s)

    def _post(self, body: dict[str, Any], key: str | None) -> str:
        """One POST; the reply's ``choices[0].message.content`` ('' when the model gave no text)."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(
            self.endpoint, data=json.dumps(body).encode("utf-8"), headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise self._http_error(error) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, HTTPException, OSError) as error:
            raise _TransientError(f"{type(error).__name__} talking to {self.endpoint}: {error}") from None
        return self._content(raw)

    def _http_error(self, error: urllib.error.HTTPError) -> Exception:
        """Classify an HTTP error reply: retry 408/409/425/429/5xx, stop on the other codes."""
        retry_after = error.headers.get("Retry-After") if error.headers else None
        seconds = (
            float(retry_after) if retry_after and retry_after.strip().replace(".", "", 1).isdigit() else None
        )
        if error.code >= 500 or error.code in _RETRYABLE_STATUS:
            return _TransientError(f"HTTP {error.code} from {self.endpoint}", seconds)
        detail = ""
        if error.code not in _NO_BODY_STATUS:
            try:
                detail = ": " + error.read(300).decode("utf-8", "replace")
            except OSError:
                detail = ""
        return LLMJudgeError(f"LLM judge {self.name}: HTTP {error.code} from {self.endpoint}{detail}")

    def _content(self, raw: bytes) -> str:
        """Extract the reply text; an unreadable reply is transient (a proxy's error page, a cut stream)."""
        try:
            content = json.loads(raw)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise _TransientError(f"unreadable reply from {self.endpoint}: {raw[:120]!r}") from None
        if content is None:
            return ""
        if not isinstance(content, str):
            raise _TransientError(f"reply content from {self.endpoint} is not text: {type(content).__name__}")
        return content
