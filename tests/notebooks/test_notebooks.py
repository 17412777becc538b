"""The notebooks run top to bottom on tiny generated data (``slow``: kernels and media) and are stored stripped."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = [
    "01_explore_data.ipynb",
    "02_rewards_and_verifier.ipynb",
    "03_consistency_report.ipynb",
    "04_grpo.ipynb",
]


def test_notebooks_are_stored_without_outputs() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == NAMES
    for name in NAMES:
        cells = json.loads((NOTEBOOKS / name).read_text())["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        assert code, name
        assert all(c["outputs"] == [] and c["execution_count"] is None for c in code), name


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Execute in a fresh kernel without the ERVLIGHT_* variables, so each builds its own tiny data."""
    nbclient = pytest.importorskip("nbclient", reason="the dev extra installs nbclient")
    nbformat = pytest.importorskip("nbformat")
    for variable in ("ERVLIGHT_DEMO_DATA", "ERVLIGHT_VERIFIER", "ERVLIGHT_REPORTS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    client.execute()
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert errors == []
    assert any(o.output_type in ("display_data", "execute_result", "stream") for o in code[-1].outputs)
