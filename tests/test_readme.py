"""The README's "your own CSV" and "your own model" quickstarts run as written."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # end-to-end: CI runs it; skip with -m "not e2e"

README = Path(__file__).parent.parent / "README.md"


def _block(marker: str) -> tuple[str, str]:
    """(language, code) of the fenced block right after ``<!-- quickstart: marker -->``."""
    match = re.search(rf"<!-- quickstart: {marker} -->\n```(\w+)\n(.*?)\n```", README.read_text(), re.S)
    assert match, f"README has no quickstart block {marker!r}"
    return match.group(1), match.group(2)


def _env() -> dict:
    root = str(Path(__file__).parent.parent)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}


def test_your_own_csv_quickstart(tmp_path):
    language, code = _block("csv")
    assert language == "bash"
    proc = subprocess.run(["bash", "-e", "-c", code], cwd=tmp_path, capture_output=True, text=True, env=_env(),
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "predicts class 1 ('malignant') where" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] in ("malignant", "benign")
    assert (tmp_path / "runs" / "cells" / "report.html").is_file()


def test_your_own_model_quickstart(tmp_path):
    pytest.importorskip("sklearn")
    language, code = _block("model")
    assert language == "python"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=_env(),
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("Result(output logit: ") and "predicts class 1 ('outside') where" in lines[1]
    assert lines[-1].replace(" ", "") in ("x0**2+2*x1**2", "2*x1**2+x0**2")
    assert (tmp_path / "runs" / "my-mlp" / "report.html").is_file()
