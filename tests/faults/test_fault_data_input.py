"""Fault suite, #15 rows 10 (data side), 11 and 12: one line for a bad data source, honest inspect counts, and a
data config that says where its val/test lists come from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from ervlight.cli import main
from ervlight.data.datamodule import ERVDataModule
from ervlight.data.errors import DatasetLayoutError, UnknownDatasetError
from ervlight.data.sources import DataSource

TESTS = Path(__file__).resolve().parents[1]
DATA_CONFIG = TESTS.parent / "configs" / "data" / "mafw_dfew.yaml"
TEST_CONFIG = """
trainer: {{accelerator: cpu, logger: false, enable_progress_bar: false, enable_model_summary: false,
          default_root_dir: {root}}}
model: {{class_path: toy_modules.ToyRegressor}}
data:
  class_path: ervlight.data.datamodule.ERVDataModule
  init_args:
    test: [{{kind: {kind}, root: {data}}}]
"""


def _run_test(
    tmp_path: Path, kind: str, data: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[str]]:
    config = tmp_path / "config.yaml"
    config.write_text(TEST_CONFIG.format(root=tmp_path / "run", kind=kind, data=data))
    code = main(["test", "--config", str(config)])
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.startswith("ervlight") or "Traceback" in line]


def test_unknown_dataset_kind_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(TESTS))  # toy_modules
    code, lines = _run_test(tmp_path, "dfwe", tmp_path, capsys)
    assert code == 2
    assert lines == ["ervlight test: unknown dataset kind 'dfwe'; registered: dfew, emer, mafw, r1omni"]
    assert not (tmp_path / "run").exists()
    with pytest.raises(UnknownDatasetError) as caught:
        ERVDataModule(test=[DataSource("dfwe", str(tmp_path))])
    assert isinstance(caught.value, ValueError)


def test_missing_data_root_is_one_line_naming_it_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(TESTS))
    missing = tmp_path / "no" / "DFEW"
    code, lines = _run_test(tmp_path, "dfew", missing, capsys)
    assert code == 2
    assert lines == [f"ervlight test: {missing}: DFEW root does not exist; check the data source's root"]
    for kind, title in (("mafw", "MAFW"), ("r1omni", "R1-Omni")):
        with pytest.raises(DatasetLayoutError, match=f"^{missing}: {title} root does not exist"):
            ERVDataModule(test=[DataSource(kind, str(missing))]).setup("test")


@pytest.mark.parametrize("kind", ["dfew", "r1omni"])
def test_inspect_missing_root(tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nothing"
    assert main(["data", "inspect", "--dataset", kind, "--root", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ervlight data inspect: {missing}: ")
    assert err.endswith("root does not exist; check the data source's root\n")


def test_inspect_clips_are_the_listed_rows(
    mafw_root: Path, bad_media: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "MAFW"
    shutil.copytree(mafw_root / "Train & Test Set", root / "Train & Test Set")
    shutil.copytree(mafw_root / "data" / "clips", root / "data" / "clips")
    shutil.copyfile(bad_media["zero_byte"], root / "data" / "clips" / "05120.mp4")  # fold-1 test: unreadable
    (root / "data" / "clips" / "18000.mp4").unlink()  # fold-1 test: missing
    assert main(["data", "inspect", "--dataset", "mafw", "--root", str(root), "--fold", "1", "--json"]) == 0
    test = json.loads(capsys.readouterr().out)["splits"]["test"]
    assert (test["clips"], test["readable"], len(test["missing"]), len(test["unreadable"])) == (3, 1, 1, 1)
    assert test["classes"] == {"happiness": 1, "sadness": 1, "disappointment": 1}
    assert sum(test["classes"].values()) == test["clips"]
    assert main(["data", "inspect", "--dataset", "mafw", "--root", str(root), "--fold", "1"]) == 0
    assert "[test] 3 clips, 1 readable, 1 missing, 1 unreadable" in capsys.readouterr().out


def test_data_config_says_where_its_evaluation_lists_come_from(mafw_root: Path, dfew_root: Path) -> None:
    text = DATA_CONFIG.read_text()
    config = yaml.safe_load(text)["init_args"]
    assert not {"val", "test", "val_fraction"} & set(config)
    assert "test\n# (and predict) default to the fold-1 official TEST lists of the train sources" in text
    assert "this file defines no validation: add `val_fraction: 0.1`" in text
    roots = {"mafw": str(mafw_root), "dfew": str(dfew_root)}
    train = [{**source, "root": roots[source["kind"]]} for source in config["train"]]
    dm = ERVDataModule(train=train, fold=config["fold"], unreadable_policy=config["unreadable_policy"])
    assert dm.split_sources("val") == []
    listing = dm.read_split("test")
    assert {(r.dataset, r.split, r.fold) for r in listing.listed()} == {
        ("mafw", "test", 1),
        ("dfew", "test", 1),
    }
    assert sorted(r.clip_id for r in listing.listed()) == [
        "00001",
        "00006",
        "00011",
        "00019",
        "05120",
        "18000",
    ]
    held_out = ERVDataModule(train=train, fold=config["fold"], val_fraction=0.5).read_split("val")
    assert {r.split for r in held_out.records} == {"val"}
