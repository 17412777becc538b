"""Every YAML shipped under configs/ resolves through the CLI (module tests run the tiny fits)."""

from pathlib import Path

import pytest
import yaml

from ervlight.cli import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
JUDGES = sorted((CONFIGS / "judge").glob("*.yaml"))  # `ervlight report --judge` files, not trainer configs
FULL = sorted(p for p in CONFIGS.rglob("*.yaml") if "model" in (yaml.safe_load(p.read_text()) or {}))
FRAGMENTS = sorted(p for p in CONFIGS.rglob("*.yaml") if p not in FULL and p not in JUDGES)


def test_configs_are_found() -> None:
    assert len(FULL) >= 8
    assert {p.parent.name for p in FULL} >= {"sft", "grpo", "verifier", "eval"}


@pytest.mark.parametrize("path", FULL, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_full_config_prints(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--print_config", "--config", str(path)])
    assert stop.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    shipped = yaml.safe_load(path.read_text())
    assert printed["model"]["class_path"] == shipped["model"]["class_path"]
    if "data" in shipped:
        assert printed["data"]["class_path"] == shipped["data"]["class_path"]


@pytest.mark.parametrize("path", FRAGMENTS, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_fragment_composes_with_a_full_config(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Fragments are one config group: a data module (it has a class_path) or trainer settings.
    fragment = yaml.safe_load(path.read_text())
    group = "data" if "class_path" in fragment else "trainer"
    base = CONFIGS / "grpo" / "erv_parity.yaml"
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--print_config", "--config", str(base), f"--{group}", str(path)])
    assert stop.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)[group]
    if group == "data":
        assert printed["class_path"] == fragment["class_path"]
        assert printed["init_args"]["fold"] == fragment["init_args"]["fold"]
    else:
        assert contains(printed, fragment)


@pytest.mark.parametrize("path", JUDGES, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_judge_config_loads(path: Path) -> None:
    from ervlight.evaluation.report_cli import load_judge

    judge = load_judge(str(path))
    assert judge.name == yaml.safe_load(path.read_text())["init_args"]["name"]


def contains(resolved: object, shipped: object) -> bool:
    """Whether every value the fragment sets holds in the resolved config (which adds defaults)."""
    if isinstance(shipped, dict):
        return isinstance(resolved, dict) and all(contains(resolved.get(k), v) for k, v in shipped.items())
    return resolved == shipped
