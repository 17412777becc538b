"""A disk cache of judge responses keyed by endpoint, model and the full request, so a re-run costs nothing."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["ResponseCache", "default_cache_dir"]


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ervlight/judge`` (``~/.cache/ervlight/judge`` when the variable is unset)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "ervlight" / "judge"


class ResponseCache:
    """One JSON file per request under ``root/<2 hex>/<sha256>.json``, written atomically (thread/process safe).

    Only the request's identity (endpoint, model, request body) and the response text are stored: never headers,
    so never a credential.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @staticmethod
    def key(endpoint: str, model: str, body: dict[str, Any]) -> str:
        """SHA-256 of the canonical JSON of endpoint, model and request body."""
        canonical = json.dumps({"endpoint": endpoint, "model": model, "body": body}, sort_keys=True)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        """The cached response text, or ``None`` (missing or unreadable entries count as misses)."""
        path = self._path(key)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        content = record.get("content") if isinstance(record, dict) else None
        return content if isinstance(content, str) else None

    def put(self, key: str, content: str, meta: dict[str, Any]) -> None:
        """Store a response text with descriptive metadata (endpoint, model, prompt)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({**meta, "content": content}, handle, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
