"""The rating server and its files: traversal, blindness, seeded order, resume, validation, the ratings file."""

from __future__ import annotations

import http.client
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import OUTPUTS
from ervlight.rating.cli import main as rate_main
from ervlight.rating.items import load_items, rater_order
from ervlight.rating.media import find_media
from ervlight.rating.server import RatingApp, make_server
from ervlight.rating.store import Rating, RatingStore, read_ratings

#: Files opened while ``_OPENED`` is collecting (an audit hook cannot be removed, so it only records on demand).
_OPENED: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _OPENED is not None and event == "open" and isinstance(args[0], str | Path):
        _OPENED.append(str(args[0]))


sys.addaudithook(_audit)


@pytest.fixture
def served(reports: dict[str, Path], clip_tree: Path, tmp_path: Path) -> Iterator[tuple[RatingApp, int]]:
    """A server on a free loopback port for both systems' reports, with the clip tree."""
    items = load_items([str(p) for p in reports.values()])
    app = RatingApp(items, find_media(items, [clip_tree]), tmp_path / "ratings", seed=0)
    server = make_server(app, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, server.server_port
    server.shutdown()
    server.server_close()


def request(
    port: int, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """One request (a raw path: nothing is normalised or encoded on the way)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    data = None if body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json"} if body is not None else {}
    connection.request("GET" if body is None else "POST", path, data, {**sent, **(headers or {})})
    response = connection.getresponse()
    return response.status, response.read()


def test_traversal_and_unknown_paths_are_404_and_read_nothing(
    served: tuple[RatingApp, int], tmp_path: Path
) -> None:
    global _OPENED
    _app, port = served
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    paths = ["/../secret.txt", "/static/../../secret.txt", f"/{secret}", f"/media/{secret}", "/media/../secret.txt",
             "/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt", "/media/%2e%2e%2f%2e%2e%2fsecret.txt", "//etc/passwd",
             "/media/" + "0" * 12 + ".mp4", "/app.js/../../secret.txt", "/index.html", "/static/app.js",
             "/media/..%2f..%2fsecret.txt"]  # fmt: skip
    _OPENED = []
    try:
        answers = [request(port, path) for path in paths]
    finally:
        opened, _OPENED = _OPENED, None
    assert answers == [(404, b"not found\n")] * len(paths)
    assert opened == []
    assert request(port, "/")[0] == 200
    assert request(port, "/app.js")[0] == 200


def test_media_is_served_by_item_id_only_with_ranges(served: tuple[RatingApp, int], clip_tree: Path) -> None:
    app, port = served
    with_clip = sorted(item.id for item in app.items.values() if item.clip == "00001")
    assert sorted(app.media) == with_clip  # only 00001 has an mp4: one item per system
    path = clip_tree / "DFEW" / "Clip" / "original" / "00001.mp4"
    assert set(app.media.values()) == {path.resolve()}
    item_id = with_clip[0]
    data = path.read_bytes()
    assert request(port, f"/media/{item_id}.mp4") == (200, data)
    assert request(port, f"/media/{item_id}.mp4", headers={"Range": "bytes=10-19"}) == (206, data[10:20])
    assert request(port, f"/media/{item_id}.mp4", headers={"Range": "bytes=-5"}) == (206, data[-5:])


def test_bad_host_and_bad_answers_are_refused_and_not_written(served: tuple[RatingApp, int]) -> None:
    app, port = served
    assert request(port, "/", headers={"Host": "evil.example:80"})[0] == 403
    item = rater_order(list(app.items.values()), 0, "alice")[0]
    good = {"rater": "alice", "item": item, "emotion": "sad", "supports": True, "coherence": 3}
    for change, message in [({"emotion": "joy"}, "emotion must be a dfew label"), ({"coherence": 6}, "coherence"),
                            ({"supports": None}, "supports must be true or false"), ({"item": "x"}, "unknown item"),
                            ({"rater": "../x"}, "bad rater id")]:  # fmt: skip
        status, body = request(port, "/api/rate", {**good, **change})
        assert status == 400
        assert message in json.loads(body)["error"]
    assert not app.store.path.exists()
    status, body = request(port, "/api/rate", good, headers={"Content-Type": "text/plain"})
    assert status == 400
    assert not app.store.path.exists()


def test_items_are_blind_seeded_and_resume_per_rater(served: tuple[RatingApp, int]) -> None:
    app, port = served
    items = list(app.items.values())
    assert len(items) == 6
    assert rater_order(items, 0, "alice") == rater_order(items, 0, "alice")
    assert rater_order(items, 0, "alice") != rater_order(items, 1, "alice")
    assert sorted(rater_order(items, 0, "bob")) == sorted(item.id for item in items)
    pages = [request(port, f"/api/item?rater=alice&index={k}")[1].decode() for k in range(6)]
    for page in pages:  # no system name, no file path, no gold
        assert not any(word in page for word in (*OUTPUTS, "reports", "predictions", '"gold"'))
    order = rater_order(items, 0, "alice")
    assert [json.loads(p)["id"] for p in pages] == order
    for k in range(2):
        status, body = request(port, "/api/rate", {"rater": "alice", "item": order[k], "emotion": "none/unclear",
                                                   "supports": False, "coherence": 2})  # fmt: skip
        assert status == 200
        assert json.loads(body)["position"] == k + 1
    state = json.loads(request(port, "/api/state?rater=alice")[1])
    assert (state["rated"], state["position"], state["total"]) == (2, 2, 6)
    assert json.loads(request(port, "/api/state?rater=bob")[1])["position"] == 0
    # A restarted app reads the file back and resumes at the same place.
    again = RatingApp(items, {}, app.out, seed=0)
    assert again.state("alice")["position"] == 2
    assert again.item("alice", 0)["rating"] == {"emotion": "none/unclear", "supports": False, "coherence": 2}
    lines = app.store.path.read_text().splitlines()
    assert [json.loads(line)["emotion"] for line in lines] == [None, None]


def _line(**change: Any) -> str:
    row = {"rater": "a", "item": "abc", "dataset": "dfew", "fold": 1, "clip": "00001", "systems": ["erv"],
           "emotion": "sad", "supports": True, "coherence": 3, "time": "t"}  # fmt: skip
    return json.dumps({**row, **change})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json\n" + _line() + "\n", ":1: not a JSON object"),
        (_line() + "\n" + _line(coherence=7) + "\n", ":2: coherence must be an integer 1..5, got 7"),
        (_line(emotion="joy") + "\n", ":1: emotion 'joy' is not a dfew label nor null"),
        (_line(dataset="nope") + "\n", ":1: unknown dataset 'nope'"),
        ("[1, 2]\n", ":1: expected a JSON object, got list"),
        (json.dumps({"rater": "a"}) + "\n", ":1: missing field(s) item, dataset"),
        (_line(supports="yes") + "\n", ":1: supports must be true, false or null"),
        (_line(rater="../x") + "\n", ":1: bad rater id"),
    ],
)
def test_malformed_ratings_files_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "ratings.jsonl"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"^{path}{message}".replace("(", r"\(").replace(")", r"\)")):
        read_ratings([path])
    assert rate_main(["export", "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "ratings.csv").exists()


def test_torn_last_line_is_skipped_then_cut_before_appending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ratings.jsonl"
    path.write_text(_line() + "\n" + _line(rater="b")[:30])
    assert [r.rater for r in read_ratings([path])] == ["a"]
    assert f"{path}:2: incomplete last line (interrupted write) ignored" in capsys.readouterr().err
    store = RatingStore(path)
    store.append(Rating("c", "abc", "dfew", 1, "00001", ("erv",), None, None, 5, "t2"))
    assert [r.rater for r in read_ratings([path])] == ["a", "c"]
    assert path.read_text().endswith("\n")
    assert path.read_text().count("\n") == 2


def test_jsonl_and_csv_predictions_give_the_same_items(
    reports: dict[str, Path], jsonl: dict[str, Path]
) -> None:
    from_csv = load_items([str(p) for p in reports.values()])
    from_jsonl = load_items([f"{name}={path}" for name, path in jsonl.items()])
    assert [(i.id, i.systems, i.answer, i.rationale) for i in from_csv] == [
        (i.id, i.systems, i.answer, i.rationale) for i in from_jsonl
    ]
    with pytest.raises(ValueError, match="two prediction files are named 'predictions'"):
        load_items([f"predictions={jsonl['erv']}", f"predictions={jsonl['sft']}"])


def test_rate_command_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "p.csv"
    bad.write_text("clip,dataset\n1,dfew\n")
    assert rate_main(["--predictions", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert (
        capsys.readouterr().err
        == f"ervlight rate: {bad}: not a report predictions.csv (missing column(s) fold, gold, answer, rationale)\n"
    )
    assert not (tmp_path / "o").exists()


def test_hide_answer_hides_it_and_takes_no_supports(reports: dict[str, Path], tmp_path: Path) -> None:
    items = load_items([str(p) for p in reports.values()])
    app = RatingApp(items, {}, tmp_path / "out", seed=0, hide_answer=True)
    shown = app.item("alice", 0)
    assert "answer" not in shown
    assert shown["media"] is None
    answer = {"rater": "alice", "item": shown["id"], "emotion": "sad", "coherence": 3}
    with pytest.raises(ValueError, match="the answer is hidden: supports must be null"):
        app.rate({**answer, "supports": True})
    assert app.rate({**answer, "supports": None})["rated"] == 1
    assert [r.supports for r in read_ratings([tmp_path / "out" / "ratings.jsonl"])] == [None]
