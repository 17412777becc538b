"""End to end: a tiny corpus written twice (1 and 2 workers) is identical; layouts, JSON files and manifest."""

import json
from pathlib import Path

import numpy as np
import pytest

from ervlight.data.readers.dfew import read_dfew
from ervlight.data.readers.mafw import read_mafw
from ervlight.data.readers.r1omni import read_r1omni
from ervlight.demo.cli import main
from ervlight.demo.generate import GENERATOR_VERSION, DemoSize, generate_demo

TINY = DemoSize({"dfew": 1, "mafw": 1}, (1.0, 1.0), 1.0, {"train": 30, "val": 10, "test": 10})
TEXT_FILES = ("emer_coldstart.json", "verifier_corpus.jsonl", "manifest.json", "README.md")


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same tiny corpus generated with one worker and with two."""
    one, two = tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("two")
    generate_demo(one, TINY, seed=3, workers=1, incoherent_fraction=0.5, progress=False)
    generate_demo(two, TINY, seed=3, workers=2, incoherent_fraction=0.5, progress=False)
    return one, two


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes(corpora: tuple[Path, Path]) -> None:
    one, two = corpora
    files_one, files_two = _files(one), _files(two)
    assert list(files_one) == list(files_two)
    assert len([name for name in files_one if name.endswith(".mp4")]) == 7 + 11
    for name, data in files_one.items():
        assert files_two[name] == data, name


def test_decoded_media_identical(corpora: tuple[Path, Path]) -> None:
    from ervlight.data.clip_decoder import ClipDecoder

    decoder = ClipDecoder(num_frames=25)
    one, two = (read_mafw(root / "MAFW", "test", 1).records for root in corpora)
    for a, b in zip(one, two, strict=True):
        clip_a, clip_b = decoder.decode(a), decoder.decode(b)
        assert clip_a.frames.shape == (25, 224, 224, 3)
        assert clip_a.has_audio
        assert clip_a.audio.shape[0] == pytest.approx(16000, abs=1100)  # AAC priming/padding
        assert clip_a.audio.abs().max() > 0.01
        assert np.array_equal(clip_a.frames.numpy(), clip_b.frames.numpy())
        assert np.array_equal(clip_a.audio.numpy(), clip_b.audio.numpy())


def test_trees_read_back(corpora: tuple[Path, Path]) -> None:
    root = corpora[0]
    for fold in range(1, 6):
        dfew = [read_dfew(root / "DFEW", split, fold) for split in ("train", "test")]
        mafw = [read_mafw(root / "MAFW", split, fold) for split in ("train", "test")]
        assert [len(x.records) for x in dfew] == [7 - len(dfew[1].records), len(dfew[1].records)]
        assert sum(len(x.records) for x in mafw) == 11
        assert all(x.missing == [] and x.invalid == [] for x in dfew + mafw)
    tests = sorted(r.clip_id for fold in range(1, 6) for r in read_dfew(root / "DFEW", "test", fold).records)
    assert tests == [f"{i:05d}" for i in range(1, 8)]
    captioned = [
        r for fold in range(1, 6) for r in read_mafw(root / "MAFW", "test", fold, captions=True).records
    ]
    assert len(captioned) == 10
    assert all(r.label != "neutral" and r.caption for r in captioned)


def test_json_outputs_and_manifest(corpora: tuple[Path, Path]) -> None:
    root = corpora[0]
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["generator"]["version"] == GENERATOR_VERSION
    assert manifest["synthetic"] is True
    assert manifest["settings"]["seed"] == 3
    assert manifest["settings"]["fps"] == 25  # DemoSize's default
    assert manifest["datasets"]["dfew"]["per_class"] == dict.fromkeys(
        ["happy", "sad", "neutral", "angry", "surprise", "disgust", "fear"], 1
    )
    assert manifest["datasets"]["mafw"]["num_clips"] == 11
    folds = manifest["datasets"]["mafw"]["folds"]
    assert sum(folds[str(k)]["test"] for k in range(1, 6)) == 11
    emer = json.loads((root / "emer_coldstart.json").read_text())
    # every fold-1 training clip outside the development split (fold 2's test list); none inside it
    fold1_train = {
        c["clip_id"]
        for d in manifest["datasets"].values()
        for c in d["clips"]
        if c["test_fold"] not in (1, 2)
    }
    assert len(emer) == manifest["emer"]["num_records"] == len(fold1_train)
    assert manifest["emer"]["drawn_from"] == {"fold": 1, "split": "train", "excluding_test_list_of_fold": 2}
    assert manifest["emer"]["num_incoherent"] == round(0.5 * len(emer))
    assert {Path(r["video"]).stem for r in emer} == fold1_train
    assert all((root / r["video"]).is_file() for r in emer)
    listing = read_r1omni(root / "emer_coldstart.json")
    assert len(listing.records) == len(emer)
    assert listing.missing == []
    assert listing.invalid == []
    lines = (root / "verifier_corpus.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["split"] for line in lines] == ["train"] * 30 + ["val"] * 10 + ["test"] * 10
    assert manifest["verifier_corpus"]["per_split"] == {"train": 30, "val": 10, "test": 10}
    assert "synthetic" in (root / "README.md").read_text().lower()


def test_cli_refuses_to_overwrite(corpora: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(corpora[0]), "--quiet"]) == 2
    assert "already holds a demo corpus" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(corpora[0]), "--size", "huge"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_generate_rejects_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown demo size 'huge'"):
        generate_demo(tmp_path, "huge")
    with pytest.raises(ValueError, match=r"incoherent_fraction must be in \[0, 1\], got 1.5"):
        generate_demo(tmp_path, TINY, incoherent_fraction=1.5)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_small_corpus_passes_inspect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ervlight.data.inspect import main as inspect

    assert main(["--out", str(tmp_path), "--size", "small", "--quiet"]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    capsys.readouterr()
    for dataset, extra in (("dfew", []), ("mafw", []), ("mafw", ["--captions"])):
        for fold in range(1, 6):
            argv = [
                "--dataset",
                dataset,
                "--root",
                str(tmp_path / dataset.upper()),
                "--fold",
                str(fold),
                "--json",
            ]
            assert inspect([*argv, *extra]) == 0
            report = json.loads(capsys.readouterr().out)
            expected = manifest["datasets"][dataset]["folds"][str(fold)]
            for split in ("train", "test"):
                counts = report["splits"][split]
                assert counts["missing"] == counts["unreadable"] == counts["no_audio"] == []
                assert counts["invalid_rows"] == []
                per_class = {k: v for k, v in expected[f"{split}_per_class"].items() if v}
                if extra:
                    per_class.pop("neutral", None)
                assert counts["classes"] == per_class
                assert counts["clips"] == counts["readable"] == sum(per_class.values())
    assert inspect(["--dataset", "emer", "--root", str(tmp_path / "emer_coldstart.json"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (emer,) = report["splits"].values()
    assert emer["clips"] == emer["readable"] == manifest["emer"]["num_records"]


def test_sizes_set_the_frame_rate() -> None:
    from ervlight.demo.plan import SIZES, plan

    rates = {
        name: {spec.fps for p in plan(size, 0).values() for spec in p.specs} for name, size in SIZES.items()
    }
    assert rates == {"small": {25}, "standard": {10}, "medium": {25}}
    lengths = [spec.num_frames for p in plan(SIZES["standard"], 0).values() for spec in p.specs]
    # 2-3 s at 10 fps: more than the 8 frames the demo samples
    assert min(lengths) >= 20
    assert max(lengths) <= 30
