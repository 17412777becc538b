"""An LLM judge for any OpenAI-compatible chat-completions endpoint, spoken through the ``openai`` SDK.

The judge sends the reference instruction (method.md "Evaluation") plus one rationale per request, normalises the
reply with the dataset's :meth:`LabelSpace.normalize`, and returns ``None`` ("unjudged") for a reply outside the
label list or a request that still fails after its retries (:meth:`LLMJudge.unjudged_reason` tells the two apart).
``reply_rule="reference"`` with the reference message template, no temperature and plain label lists is the
reference judge script exactly (``configs/judge/reference_gpt41mini.yaml``; :mod:`ervlight.protocol.judging`): a
reply counts only when it IS a label (case and white space included), anything else, a failed request too, is
``neutral``.
Replies are cached on disk (:class:`ResponseCache`), so a re-run sends nothing. Requests run on the SDK's async
client (connection pooling, any ``base_url``), at most ``max_concurrency`` at once, each try under a total
deadline of ``timeout_s``; the retries and their accounting are ervlight's own (Retry-After honoured).

The API key is read from the environment variable NAMED by ``api_key_env`` when a request is needed; it is never
stored on the judge, logged, cached or put in an error message: SDK errors (which carry the request, headers
included, and the reply body) never leave this module; errors are rebuilt from the status code and a redacted
body, outside the ``except`` block so that no exception chain holds the SDK's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from tqdm.auto import tqdm

from ervlight.errors import UserError
from ervlight.evaluation.response_cache import ResponseCache, default_cache_dir
from ervlight.labels import get_label_space
from ervlight.protocol.judging import reference_judge_reply

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = [
    "DEFAULT_MESSAGE",
    "REFERENCE_MESSAGE",
    "REFERENCE_PROMPT",
    "JudgeStats",
    "LLMJudge",
    "LLMJudgeError",
    "ReplyRule",
    "UnjudgedReason",
    "redact",
]

logger = logging.getLogger(__name__)

#: The reference judge instruction; ``{labels}`` becomes ``[label, label, …]`` and the rationale follows it.
REFERENCE_PROMPT = (
    "Read the reasoning content and respond with the appropriate emotion in {labels}. "
    "Reply with only the emotion word."
)
#: The user message of ervlight's judge: the instruction, a blank line, the rationale.
DEFAULT_MESSAGE = "{instruction}\n\n{rationale}"
#: The user message of the reference judge script.
REFERENCE_MESSAGE = "{instruction}\nReason: {rationale}\nAnswer Emotion:"
#: How a reply becomes a label: ``normalize`` (ervlight: :meth:`LabelSpace.normalize`, else unjudged) or
#: ``reference`` (exactly a label, else ``neutral``, a failed request too).
ReplyRule = Literal["normalize", "reference"]
#: Why a rationale is unjudged: the request failed after its retries, or the reply named no label of the list.
UnjudgedReason = Literal["failed", "out_of_list"]
_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
_NO_BODY_STATUS = frozenset({401, 403})  # auth replies may echo a masked key: never repeat them
_BEARER = re.compile(r"(?i)(bearer\s+)\S+")
_T = TypeVar("_T")


class LLMJudgeError(UserError, RuntimeError):
    """A configuration or endpoint error that retrying cannot fix (missing SDK or key variable, HTTP 4xx, …)."""


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


def redact(text: str, secret: str | None) -> str:
    """``text`` with the secret and any ``Bearer <token>`` replaced by ``[redacted]``."""
    if secret:
        text = text.replace(secret, "[redacted]")
    return _BEARER.sub(r"\1[redacted]", text)


def _retry_after(headers: Any) -> float | None:
    """Seconds from a numeric ``Retry-After`` (or ``retry-after-ms``) header, else ``None``."""
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        if value and value.strip().replace(".", "", 1).isdigit():
            return float(value) * scale
    return None


async def _pause(seconds: float) -> None:
    """Wait between two tries (a module function so tests can record the delays)."""
    await asyncio.sleep(seconds)


def _run(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion; in a thread of its own when this thread already runs a loop (notebooks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm-judge") as pool:
        return pool.submit(asyncio.run, coroutine).result()


class LLMJudge:
    """Judge rationales with an LLM behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Needs the ``openai`` SDK: ``pip install 'ervlight[judge]'``.

    Args:
        base_url: the API root, e.g. ``https://api.openai.com/v1`` or ``http://127.0.0.1:8000/v1``.
        model: the model name sent in each request (the reference used ``gpt-4.1-mini``).
        api_key_env: NAME of the environment variable holding the API key; ``None`` sends no key (local servers).
        prompt: the instruction; ``{labels}`` is replaced by the dataset's label list.
        message: the one user message; ``{instruction}`` and ``{rationale}`` are filled in (default: the
            instruction, a blank line, the rationale; :data:`REFERENCE_MESSAGE` is the reference script's).
        label_brackets: write the label list as ``[a, b]`` (``False``: ``a, b``, as the reference script).
        temperature: sampling temperature of the judge (0 for repeatable answers); ``None`` sends none (the API's
            default, as the reference script).
        reply_rule: ``normalize`` (default) or ``reference`` (:data:`ReplyRule`).
        max_tokens: reply length limit; ``None`` leaves it to the server.
        extra_body: further request fields (``seed``, ``top_p``…); they are part of the cache key.
        timeout_s: total deadline of one try in seconds (connecting, sending and reading the whole reply).
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
        message: str = DEFAULT_MESSAGE,
        label_brackets: bool = True,
        temperature: float | None = 0.0,
        reply_rule: ReplyRule = "normalize",
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
        if "{instruction}" not in message or "{rationale}" not in message:
            raise ValueError("LLMJudge message must contain the placeholders {instruction} and {rationale}")
        if reply_rule not in ("normalize", "reference"):
            raise ValueError(f"LLMJudge reply_rule must be 'normalize' or 'reference', got {reply_rule!r}")
        _require_sdk()
        self.base_url = base_url.rstrip("/")
        self.endpoint = self.base_url + "/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.prompt = prompt
        self.message = message
        self.label_brackets = label_brackets
        self.temperature = temperature
        self.reply_rule: ReplyRule = reply_rule
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
        self._unjudged: dict[tuple[str, str], UnjudgedReason] = {}

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
            replies.update(_run(self._fetch_all(misses, self._api_key())))
        answers = [self._label(replies[r], dataset) for r in rationales]
        for rationale, answer in zip(rationales, answers, strict=True):
            if answer is None:
                reason: UnjudgedReason = "failed" if replies[rationale] is None else "out_of_list"
                self._unjudged[(dataset, rationale)] = reason
                stats.out_of_list += reason == "out_of_list"
            else:
                self._unjudged.pop((dataset, rationale), None)
        if stats.failures:
            logger.warning(
                "LLM judge %s: %d request(s) to %s failed after %d retries; those rationales are unjudged",
                self.name, stats.failures, self.endpoint, self.max_retries,
            )  # fmt: skip
        return answers

    def _label(self, reply: str | None, dataset: str) -> str | None:
        """The judged label of a reply (``None``: a failed request) under the reply rule."""
        if self.reply_rule == "reference":
            return reference_judge_reply(reply, dataset)
        return get_label_space(dataset).normalize(reply) if reply is not None else None

    def failed_rationales(self) -> int:
        """Distinct (dataset, rationale) pairs whose latest judgement failed after every retry."""
        return sum(reason == "failed" for reason in self._unjudged.values())

    def unjudged_reason(self, rationale: str, dataset: str) -> UnjudgedReason | None:
        """Why the latest judgement of ``rationale`` in ``dataset`` is ``None``; ``None`` when it named a label."""
        return self._unjudged.get((dataset, rationale))

    # -- requests -----------------------------------------------------------------------------------------------
    def request_body(self, rationale: str, labels: tuple[str, ...]) -> dict[str, Any]:
        """The JSON body sent for one rationale (also the cache key's content)."""
        listed = ", ".join(labels)
        instruction = self.prompt.replace("{labels}", f"[{listed}]" if self.label_brackets else listed)
        content = self.message.replace("{instruction}", instruction).replace("{rationale}", rationale)
        body: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": content}]}
        if self.temperature is not None:
            body["temperature"] = self.temperature
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

    def _client(self, key: str | None) -> AsyncOpenAI:
        """An SDK client without SDK retries (ervlight's own count them)."""
        import openai

        return openai.AsyncOpenAI(api_key=key or "unused", base_url=self.base_url, timeout=self.timeout_s,
                                  max_retries=0)  # fmt: skip

    async def _fetch_all(self, misses: dict[str, dict[str, Any]], key: str | None) -> dict[str, str | None]:
        """Request every missing reply with at most ``max_concurrency`` in flight."""
        slots = asyncio.Semaphore(self.max_concurrency)
        bar = tqdm(total=len(misses), desc=f"judge {self.name}", disable=not self.progress, leave=False)

        async def one(client: AsyncOpenAI, body: dict[str, Any]) -> str | None:
            async with slots:
                reply = await self._fetch(client, body, key)
            bar.update()
            return reply

        try:
            async with self._client(key) as client:
                tasks = [asyncio.ensure_future(one(client, body)) for body in misses.values()]
                try:
                    replies = await asyncio.gather(*tasks)
                except BaseException:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    raise
        finally:
            bar.close()
        return dict(zip(misses, replies, strict=True))

    async def _fetch(self, client: AsyncOpenAI, body: dict[str, Any], key: str | None) -> str | None:
        """One rationale's reply text with retries; cached on success; ``None`` once retries are spent."""
        for attempt in range(self.max_retries + 1):
            self.last_stats.requests += 1
            outcome = await self._try(client, body, key)
            if isinstance(outcome, LLMJudgeError):
                raise outcome
            if isinstance(outcome, _TransientError):
                if attempt == self.max_retries:
                    self._give_up(outcome)
                    return None
                self.last_stats.retries += 1
                await _pause(self._delay(attempt, outcome.retry_after))
                continue
            if self.cache is not None:
                meta = {
                    "endpoint": self.endpoint,
                    "model": self.model,
                    "prompt": body["messages"][0]["content"],
                }
                self.cache.put(self._key(body), outcome, meta)
            return outcome
        raise AssertionError("unreachable")  # pragma: no cover

    async def _try(
        self, client: AsyncOpenAI, body: dict[str, Any], key: str | None
    ) -> str | LLMJudgeError | _TransientError:
        """One POST under the total deadline: the reply text, or the error to act on (returned, never chained)."""
        import openai

        fields = {
            name: body[name] for name in ("model", "messages", "temperature", "max_tokens") if name in body
        }
        extra = {name: value for name, value in body.items() if name not in fields}
        headers = (
            None if key is not None else {"Authorization": openai.Omit()}
        )  # no key: no Authorization header
        create = client.chat.completions.with_raw_response.create
        failure: LLMJudgeError | _TransientError
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await create(**fields, extra_body=extra, extra_headers=headers)
                raw = response.content
        except TimeoutError:
            failure = _TransientError(f"no complete reply from {self.endpoint} within {self.timeout_s:g} s")
        except openai.APIStatusError as error:
            failure = self._status_error(error.status_code, error.response.text, error.response.headers, key)
        except openai.APIConnectionError as error:
            failure = _TransientError(f"{type(error).__name__} talking to {self.endpoint}")
        else:
            return self._content(raw, key)
        return failure

    def _status_error(
        self, code: int, text: str, headers: Any, key: str | None
    ) -> LLMJudgeError | _TransientError:
        """Classify an HTTP error reply: retry 408/409/425/429/5xx, stop on the other codes (redacted body)."""
        if code >= 500 or code in _RETRYABLE_STATUS:
            return _TransientError(f"HTTP {code} from {self.endpoint}", _retry_after(headers))
        detail = "" if code in _NO_BODY_STATUS else ": " + redact(text[:300], key)
        return LLMJudgeError(f"LLM judge {self.name}: HTTP {code} from {self.endpoint}{detail}")

    def _give_up(self, error: _TransientError) -> None:
        """Count a request that failed all its tries; raise if configured so."""
        self.last_stats.failures += 1
        if self.raise_on_failure:
            raise LLMJudgeError(f"LLM judge {self.name}: {error} (after {self.max_retries} retries)")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter, or the server's Retry-After, capped at ``max_backoff_s``."""
        delay = self.backoff_s * (2**attempt) * (0.5 + random.random() / 2)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, self.max_backoff_s)

    def _content(self, raw: bytes, key: str | None) -> str | _TransientError:
        """The reply text; an unreadable reply is transient (a proxy's error page, a cut stream)."""
        try:
            content = json.loads(raw)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return _TransientError(f"unreadable reply from {self.endpoint}: {redact(repr(raw[:120]), key)}")
        if content is None:
            return ""
        if not isinstance(content, str):
            return _TransientError(
                f"reply content from {self.endpoint} is not text: {type(content).__name__}"
            )
        return content


def _require_sdk() -> None:
    """Fail with one line naming the extra when the ``openai`` SDK is missing."""
    try:
        import openai  # noqa: F401
    except ImportError:
        raise LLMJudgeError("LLMJudge needs the openai SDK: pip install 'ervlight[judge]'") from None
