"""The rating server: a static page and a small JSON API on the standard library's threading HTTP server.

Routes (anything else is 404; no route maps a request path onto the file system):

* ``GET /``, ``/app.js``, ``/style.css`` — the page, from the package's ``static/`` folder (a fixed list);
* ``GET /api/state?rater=ID`` — total, how many items the rater has rated, where to resume, the question setup;
* ``GET /api/item?rater=ID&index=K`` — the K-th item of the rater's seeded order (no system name, no gold; no
  answer with ``hide_answer``), with the rater's previous answers;
* ``POST /api/rate`` — one answer (JSON), validated, appended and fsynced before the reply;
* ``GET /media/<item id>.mp4`` — the clip of an item, found by the dataset readers at start-up (byte ranges
  supported for seeking);
* ``GET /export.csv`` — writes ``ratings.csv`` inside the output folder and sends it.

Requests whose ``Host`` is not the bound loopback address are refused (DNS rebinding), and answers are accepted
only as ``application/json`` (a cross-site form cannot post them).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ervlight.labels import get_label_space
from ervlight.rating.items import RatingItem, rater_order
from ervlight.rating.store import COHERENCE_SCALE, RATER_ID, UNCLEAR, Rating, RatingStore, export_csv

__all__ = ["RatingApp", "make_server"]

#: The page's files: request path -> (file in ``ervlight/rating/static``, content type).
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
_MEDIA = re.compile(r"^/media/([0-9a-f]{12})\.mp4$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RatingApp:
    """The state of a rating session: items, media, the ratings store and the question setup.

    Args:
        items: the items to rate.
        media: ``{(dataset, clip): mp4}`` (clips without media are shown without a player).
        out: the output folder (``ratings.jsonl`` and exports; nothing is written elsewhere).
        seed: seed of every rater's item order.
        hide_answer: hide the system's answer (and the "supports the answer" question).
    """

    def __init__(
        self,
        items: list[RatingItem],
        media: dict[tuple[str, str], Path],
        out: str | Path,
        seed: int = 0,
        hide_answer: bool = False,
    ) -> None:
        self.items = {item.id: item for item in items}
        self.media = {
            item.id: media[(item.dataset, item.clip)] for item in items if (item.dataset, item.clip) in media
        }
        self.out = Path(out)
        self.store = RatingStore(self.out / "ratings.jsonl")
        self.seed = seed
        self.hide_answer = hide_answer
        self._orders: dict[str, list[str]] = {}

    def order(self, rater: str) -> list[str]:
        """The rater's item order (cached)."""
        if rater not in self._orders:
            self._orders[rater] = rater_order(list(self.items.values()), self.seed, rater)
        return self._orders[rater]

    def state(self, rater: str) -> dict[str, Any]:
        """Progress of a rater: total, rated, the index to resume at (``total`` when done)."""
        rated = self.store.rated(rater)
        order = self.order(rater)
        position = next((i for i, item in enumerate(order) if item not in rated), len(order))
        done = sum(item in rated for item in order)
        return {"total": len(order), "rated": done, "position": position, "hide_answer": self.hide_answer,
                "coherence": list(COHERENCE_SCALE), "unclear": UNCLEAR}  # fmt: skip

    def item(self, rater: str, index: int) -> dict[str, Any]:
        """What the page shows of the ``index``-th item of the rater's order; ``IndexError`` when out of range."""
        order = self.order(rater)
        if not 0 <= index < len(order):
            raise IndexError(index)
        item = self.items[order[index]]
        previous = self.store.rated(rater).get(item.id)
        payload: dict[str, Any] = {
            "index": index,
            "total": len(order),
            "id": item.id,
            "dataset": item.dataset,
            "labels": list(get_label_space(item.dataset).labels),
            "rationale": item.rationale,
            "media": f"/media/{item.id}.mp4" if item.id in self.media else None,
            "rating": None
            if previous is None
            else {
                "emotion": previous.emotion or UNCLEAR,
                "supports": previous.supports,
                "coherence": previous.coherence,
            },
        }
        if not self.hide_answer:
            payload["answer"] = item.answer
        return payload

    def rate(self, body: Any) -> dict[str, Any]:
        """Validate and store one answer; ``ValueError`` with a message for the page on a bad one."""
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        rater, item_id = body.get("rater"), body.get("item")
        if not isinstance(rater, str) or not RATER_ID.match(rater):
            raise ValueError("bad rater id")
        if item_id not in self.items:
            raise ValueError("unknown item")
        item = self.items[item_id]
        emotion = body.get("emotion")
        if emotion != UNCLEAR and emotion not in get_label_space(item.dataset).labels:
            raise ValueError(f"emotion must be a {item.dataset} label or {UNCLEAR!r}")
        supports = body.get("supports")
        if self.hide_answer and supports is not None:
            raise ValueError("the answer is hidden: supports must be null")
        if not self.hide_answer and supports not in (True, False):
            raise ValueError("supports must be true or false")
        coherence = body.get("coherence")
        if type(coherence) is not int or coherence not in COHERENCE_SCALE:
            raise ValueError("coherence must be an integer 1..5")
        time = datetime.now(UTC).isoformat(timespec="milliseconds")
        self.store.append(Rating(rater, item.id, item.dataset, item.fold, item.clip, tuple(item.systems),
                                 None if emotion == UNCLEAR else emotion, supports, coherence, time))  # fmt: skip
        return self.state(rater)

    def export(self) -> Path:
        """Write ``ratings.csv`` (latest answer per rater and item) in the output folder."""
        return export_csv(self.store.ratings, self.out / "ratings.csv")


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the :class:`RatingApp` of the server."""

    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the page polls nothing, errors reach the page."""

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        """One complete response with the security headers."""
        self.send_response(status)
        headers = {"Content-Type": content_type, "Content-Length": str(len(body)), "Cache-Control": "no-store",
                   "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                   "Content-Security-Policy": "default-src 'self'; media-src 'self'; object-src 'none'"}  # fmt: skip
        headers.update(extra or {})
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, payload: Any, status: int = 200) -> None:
        """A JSON response."""
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json")

    def _not_found(self) -> None:
        """404 with no detail."""
        self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")

    def _host_ok(self) -> bool:
        """Whether the Host header names the address the server listens on."""
        host, port = self.server.server_address[0], self.server.server_port
        allowed = {f"{host}:{port}", f"localhost:{port}"} if host in ("127.0.0.1", "::1") else None
        return allowed is None or self.headers.get("Host", "") in allowed

    def _rater(self, query: dict[str, list[str]]) -> str | None:
        """The ``rater`` query value when it is a valid id."""
        rater = query.get("rater", [""])[0]
        return rater if RATER_ID.match(rater) else None

    def do_GET(self) -> None:
        """Static files, the API's reads, media and the export."""
        if not self._host_ok():
            self._send(HTTPStatus.FORBIDDEN, b"bad host\n", "text/plain; charset=utf-8")
            return
        app = self.server.app
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path in STATIC:
            name, content_type = STATIC[url.path]
            body = resources.files("ervlight.rating").joinpath("static", name).read_bytes()
            self._send(HTTPStatus.OK, body, content_type)
        elif url.path in ("/api/state", "/api/item"):
            rater = self._rater(query)
            if rater is None:
                self._json({"error": "bad rater id"}, HTTPStatus.BAD_REQUEST)
            elif url.path == "/api/state":
                self._json(app.state(rater))
            else:
                try:
                    self._json(app.item(rater, int(query.get("index", ["0"])[0])))
                except (ValueError, IndexError):
                    self._not_found()
        elif url.path == "/export.csv":
            body = app.export().read_bytes()
            self._send(HTTPStatus.OK, body, "text/csv; charset=utf-8",
                       {"Content-Disposition": 'attachment; filename="ratings.csv"'})  # fmt: skip
        elif (match := _MEDIA.match(url.path)) and match.group(1) in app.media:
            self._media(app.media[match.group(1)])
        else:
            self._not_found()

    def _media(self, path: Path) -> None:
        """Send an mp4, whole or the one byte range asked for."""
        size = path.stat().st_size
        match = _RANGE.match(self.headers.get("Range", ""))
        start, end = 0, size - 1
        if match and (match.group(1) or match.group(2)):
            if match.group(1):
                start, end = int(match.group(1)), int(match.group(2) or size - 1)
            else:
                start = max(0, size - int(match.group(2)))
            end = min(end, size - 1)
            if start > end:
                self._send(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", "video/mp4",
                           {"Content-Range": f"bytes */{size}"})  # fmt: skip
                return
        with path.open("rb") as handle:
            handle.seek(start)
            body = handle.read(end - start + 1)
        if match:
            extra = {"Content-Range": f"bytes {start}-{end}/{size}", "Accept-Ranges": "bytes"}
            self._send(HTTPStatus.PARTIAL_CONTENT, body, "video/mp4", extra)
        else:
            self._send(HTTPStatus.OK, body, "video/mp4", {"Accept-Ranges": "bytes"})

    def do_POST(self) -> None:
        """``/api/rate`` only, JSON only."""
        if not self._host_ok():
            self._send(HTTPStatus.FORBIDDEN, b"bad host\n", "text/plain; charset=utf-8")
            return
        if urlsplit(self.path).path != "/api/rate":
            self._not_found()
            return
        length = int(self.headers.get("Content-Length", "0") or 0)
        if not self.headers.get("Content-Type", "").startswith("application/json") or not 0 < length <= 65536:
            self._json({"error": "send one JSON answer"}, HTTPStatus.BAD_REQUEST)
            return
        try:
            body = json.loads(self.rfile.read(length))
            self._json(self.server.app.rate(body))
        except (ValueError, UnicodeDecodeError) as error:
            self._json({"error": str(error)}, HTTPStatus.BAD_REQUEST)


class _Server(ThreadingHTTPServer):
    """A threading HTTP server that carries the :class:`RatingApp`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: RatingApp) -> None:
        super().__init__(address, _Handler)
        self.app = app


def make_server(app: RatingApp, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """A server for ``app`` bound to ``host:port`` (port 0: any free port); call ``serve_forever`` on it."""
    return _Server((host, port), app)
