"""The documentation site builds without a warning, and holds every section the README used to hold."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parent.parent
DOCS = REPO / "docs"
README = REPO / "README.md"

# Every section heading of the 671-line README (commit e31c2a9) and the page it moved to.
MOVED_SECTIONS = {
    "What it does": "index.md",
    "Your own CSV": "quickstart.md",
    "Your own model": "quickstart.md",
    "Example: Palmer penguins (real data)": "quickstart.md",
    "Running": "usage.md",
    "Configuration": "configuration.md",
    "Search": "search.md",
    "Choosing the formula": "search.md",
    "PySR": "search.md",
    "The run directory": "results.md",
    "`result.json` (format `symgrad-result`, version 1)": "results.md",
    "Fidelity, verdict and report": "results.md",
    "What a result means": "results.md",
    "Notebooks": "notebooks.md",
    "Batch experiments": "batch.md",
    "Comparing with surrogates": "companions.md",
    "Benchmarks": "benchmarks.md",
}

# Paragraphs of that README that opened with a bold title instead of a heading.
MOVED_PARAGRAPHS = {
    "**Overwriting.**": "usage.md",
    "**Failed runs**": "usage.md",
    "**Column names.**": "usage.md",
    "**Cells and row numbers.**": "usage.md",
    "**Progress.**": "usage.md",
    "**Noisy labels.**": "search.md",
    "**Memory.**": "search.md",
    "**Reproducibility.**": "search.md",
    "**Interrupting.**": "search.md",
    "**Batch file.**": "batch.md",
    "**Hidden units**": "batch.md",
    "**Batch folder.**": "batch.md",
    "**Failures, resume, Ctrl-C.**": "batch.md",
    "**Executors and threads.**": "batch.md",
    "**Measured**": "batch.md",
    "**verdict**": "results.md",
    "**floor**": "results.md",
    "**Surrogates fitted to the network's labels**": "companions.md",
    "**PReLU collapse rules**": "companions.md",
}


def _headings(text: str) -> list[str]:
    """Markdown headings of a page, outside fenced code blocks."""
    headings, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6} (.+?)\s*$", line)):
            headings.append(match.group(1))
    return headings


def _slug(heading: str) -> str:
    """The anchor MkDocs and GitHub give a heading (for the headings these pages use)."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).strip().replace(" ", "-")


@pytest.mark.parametrize("heading", MOVED_SECTIONS)
def test_every_old_readme_section_is_a_heading_on_its_page(heading):
    page = DOCS / MOVED_SECTIONS[heading]
    assert heading in _headings(page.read_text(encoding="utf-8")), f"{heading!r} is not a heading of {page.name}"


@pytest.mark.parametrize("opening", MOVED_PARAGRAPHS)
def test_every_old_readme_titled_paragraph_is_on_its_page(opening):
    assert opening in (DOCS / MOVED_PARAGRAPHS[opening]).read_text(encoding="utf-8")


def test_the_readme_is_a_front_door():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 200
    assert text.startswith("# symgrad\n\n```bash\n"
                           "pip install -e . && python -m symgrad.run experiments/paper/A1.yaml\n"
                           'pip install -e ".[dev]" && python -m pytest\n```\n')


@pytest.mark.parametrize("marker", ["csv", "model"])
def test_the_quickstarts_on_the_site_are_the_tested_ones(marker):
    # tests/test_readme.py runs the README's blocks; the Quickstart page must show the same code
    pattern = rf"<!-- quickstart: {marker} -->\n```\w+\n.*?\n```"
    readme_block = re.search(pattern, README.read_text(encoding="utf-8"), re.S)
    assert readme_block, f"README has no quickstart block {marker!r}"
    assert readme_block.group(0) in (DOCS / "quickstart.md").read_text(encoding="utf-8")


def test_the_readmes_links_into_docs_exist():
    # on GitHub the README's links open the Markdown pages themselves, which no build checks
    links = re.findall(r"\]\((docs/[^)#\s]+)(?:#([^)\s]+))?\)", README.read_text(encoding="utf-8"))
    assert links
    for path, anchor in links:
        page = REPO / path
        assert page.is_file(), f"README links to {path}, which does not exist"
        if anchor:
            anchors = {_slug(h) for h in _headings(page.read_text(encoding="utf-8"))}
            assert anchor in anchors, f"README links to {path}#{anchor}; that page has no such heading"


def test_the_site_builds_with_warnings_as_errors(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e '.[docs]')")
    pytest.importorskip("mkdocstrings_handlers.python",
                        reason="the docs extra is not installed (pip install -e '.[docs]')")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WARNING" not in proc.stderr, proc.stderr[-3000:]
    assert (tmp_path / "site" / "api" / "index.html").is_file()
    # the API page is rendered from the docstrings, not left as ::: directives
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert ":::" not in api and 'id="symgrad.explain.explain"' in api and 'id="symgrad.result.load_run"' in api
