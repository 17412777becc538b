"""The rating page end to end in headless Chromium: rate three items by keyboard, reload and resume, export, report."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import WordJudge, system_records
from ervlight.evaluation.report import build_report
from ervlight.rating.items import load_items, rater_order
from ervlight.rating.media import find_media
from ervlight.rating.server import RatingApp, make_server
from ervlight.rating.store import read_ratings

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
#: Alice's keys per rationale: (emotion, supports, coherence). DFEW keys: 1 happy … 3 neutral, 4 angry, 8 none/unclear.
ALICE = {"He looks calm.": "3y4", "Nothing shows on his face.": "8n2", "He shouts at the door.": "4y5"}


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[object]:
    """Headless Chromium through Selenium; skipped without Chromium, except under CI (then it fails)."""
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but chromium/chromedriver are missing: run `make browser` first")
        pytest.skip("chromium and chromedriver not found (install them with `make browser`)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1100,900",
    ):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(tmp_path / "downloads")})
    browser = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield browser
    finally:
        browser.quit()


def wait_for(check: object, timeout: float = 10.0) -> None:
    """Poll ``check()`` until true."""
    end = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_rate_reload_resume_export_and_report(
    driver: object, reports: dict[str, Path], clip_tree: Path, tmp_path: Path
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    items = load_items([str(p) for p in reports.values()])
    out = tmp_path / "ratings"
    app = RatingApp(items, find_media(items, [clip_tree]), out, seed=0)
    server = make_server(app, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    text = lambda element_id: driver.find_element(By.ID, element_id).text  # type: ignore[attr-defined]  # noqa: E731
    order = rater_order(items, 0, "alice")
    try:
        driver.get(f"{base}/?rater=alice")  # type: ignore[attr-defined]
        wait_for(lambda: text("progress") == "1 of 6 · rated 0")
        for k in range(3):
            rationale = text("rationale")
            assert rationale == app.items[order[k]].rationale
            ActionChains(driver).send_keys(*ALICE[rationale], Keys.ENTER).perform()
            wait_for(lambda k=k: text("progress") == f"{k + 2} of 6 · rated {k + 1}")
        driver.refresh()  # type: ignore[attr-defined]
        wait_for(lambda: text("progress") == "4 of 6 · rated 3")
        assert text("rationale") == app.items[order[3]].rationale
        driver.find_element(By.ID, "export").click()  # type: ignore[attr-defined]
        download = tmp_path / "downloads" / "ratings.csv"
        wait_for(download.is_file)
        exported = download.read_text()
        # A second rater answers the same three items through the API.
        bob = {"He looks calm.": ("neutral", True, 5), "Nothing shows on his face.": ("neutral", False, 3),
               "He shouts at the door.": ("angry", True, 4)}  # fmt: skip
        for item in order[:3]:
            emotion, supports, coherence = bob[app.items[item].rationale]
            body = {
                "rater": "bob",
                "item": item,
                "emotion": emotion,
                "supports": supports,
                "coherence": coherence,
            }
            request = urllib.request.Request(f"{base}/api/rate", json.dumps(body).encode(),
                                             {"Content-Type": "application/json"})  # fmt: skip
            assert urllib.request.urlopen(request).status == 200
        with urllib.request.urlopen(f"{base}/export.csv") as response:
            both = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(p.name for p in out.iterdir()) == ["ratings.csv", "ratings.jsonl"]
    assert (out / "ratings.csv").read_bytes().decode() == both
    expected = [
        ("alice", "He looks calm.", "neutral", True, 4),
        ("alice", "Nothing shows on his face.", None, False, 2),
        ("alice", "He shouts at the door.", "angry", True, 5),
        ("bob", "He looks calm.", "neutral", True, 5),
        ("bob", "Nothing shows on his face.", "neutral", False, 3),
        ("bob", "He shouts at the door.", "angry", True, 4),
    ]
    ratings = read_ratings([out / "ratings.jsonl"])
    got = [(r.rater, app.items[r.item].rationale, r.emotion, r.supports, r.coherence) for r in ratings]
    assert got == expected
    assert [(r.dataset, r.fold, r.clip, r.systems) for r in ratings[:3]] == [
        ("dfew", 1, "00003", ("erv",)), ("dfew", 1, "00003", ("sft",)), ("dfew", 1, "00001", ("sft",))
    ]  # fmt: skip
    rows = exported.splitlines()
    assert rows[0] == "rater,item,dataset,fold,clip,systems,emotion,supports,coherence,time"
    assert [row.split(",")[:9] for row in rows[1:]] == [
        ["alice", order[0], "dfew", "1", "00003", "erv", "neutral", "yes", "4"],
        ["alice", order[1], "dfew", "1", "00003", "sft", "none/unclear", "no", "2"],
        ["alice", order[2], "dfew", "1", "00001", "sft", "angry", "yes", "5"],
    ]
    records = system_records("erv") + system_records("sft")
    report = build_report(records, [WordJudge()], tmp_path / "report", name="both", tensorboard=False,
                          ratings=ratings)  # fmt: skip
    markdown = (tmp_path / "report" / "report.md").read_text()
    section = markdown[markdown.index("## Human ratings") : markdown.index("## Figures")].strip().splitlines()
    assert section == [
        "## Human ratings",
        "",
        "6 ratings by 2 rater(s). Human answer = the raters' majority emotion (a tie or none/unclear counts as "
        "unjudged); every row is counted on the rated clips.",
        "",
        "| dataset | judge | clips | EEA | EPC | FCR |",
        "|---|---|---|---|---|---|",
        "| dfew | humans (majority) | 3/6 | 33.3 | 66.7 | 33.3 |",
        "| dfew | words | 3/6 | 33.3 | 66.7 | 33.3 |",
        "",
        "| dataset | supports the answer (%) | coherence 1-5 (mean ± std) |",
        "|---|---|---|",
        "| dfew | 66.7 | 3.83 ± 1.17 |",
        "",
        "### Inter-rater agreement (emotion)",
        "",
        "| dataset | raters | statistic | items | kappa | Krippendorff's alpha | items (alpha) |",
        "|---|---|---|---|---|---|---|",
        "| dfew | 2 | Cohen's kappa | 3 | 0.500 | 0.545 | 3 |",
        "",
        "### Judges vs the human majority (emotion; 95% bootstrap intervals)",
        "",
        "| dataset | judge | items | agreement (%) | 95% CI | Cohen's kappa | 95% CI |",
        "|---|---|---|---|---|---|---|",
        "| dfew | words | 2 | 100.0 | 100.0–100.0 | 1.000 | 1.000–1.000 |",
    ]
    assert report.human is not None
    assert (tmp_path / "report" / "human_agreement.png").is_file()
    assert json.loads((tmp_path / "report" / "metrics.json").read_text())["human"] == report.human
