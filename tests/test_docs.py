"""The docs cannot rot silently: the README stays a short user's guide, and every document that code, the README or
a docs page cites exists (pure: reads files only)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 220
CODE_DIRS = ("nodes", "samplers", "tools", "tests", "web")
# a path-like token ending in .md, e.g. docs/algorithms/miga.md or models/shapes_wan21/README.md
MD_TOKEN = re.compile(r"[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md\b")
MD_LINK = re.compile(r"\]\(([^)\s]+)\)")
DOCS_PATH = re.compile(r"(?<![\w./])docs/[A-Za-z0-9_-][A-Za-z0-9_./-]*\.md")


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def code_files() -> list[Path]:
    files = [ROOT / "__init__.py"]
    for d in CODE_DIRS:
        files += sorted(p for p in (ROOT / d).rglob("*") if p.suffix in (".py", ".js") and p != Path(__file__))
    return files


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    heads = [line.lstrip("#").strip() for line in page.read_text().splitlines() if line.startswith("#")]
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in heads}


def broken_citations(page: Path, root: Path = ROOT) -> list[str]:
    """Links of ``page`` to files or headings that do not exist, and ``docs/...md`` paths (from ``root``) that do
    not exist."""
    text = page.read_text()
    broken = []
    for target in MD_LINK.findall(text):
        if "://" in target:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"link {target}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"anchor {target}")
    broken += [f"path {tok}" for tok in DOCS_PATH.findall(text) if not (root / tok).is_file()]
    return broken


def test_readme_is_a_short_users_guide():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move details to docs/"


def test_docs_cited_in_code_exist():
    missing = []
    for f in code_files():
        for n, line in enumerate(f.read_text().splitlines(), 1):
            for tok in MD_TOKEN.findall(line):
                where = f"{f.relative_to(ROOT)}:{n}: {tok}"
                if "/" not in tok:
                    if tok != "README.md":  # a folder's own card, e.g. MODEL_DIR / "README.md"
                        missing.append(where + " (cite docs by their path from the repo root, docs/...)")
                elif not (ROOT / tok).is_file():
                    missing.append(where)
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_cited_in_markdown_exist(page: Path):
    assert not broken_citations(page), f"{page.relative_to(ROOT)}: " + ", ".join(broken_citations(page))


def test_broken_citations_are_found(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "there.md").write_text("# There\n")
    page = tmp_path / "p.md"
    page.write_text("# Title: here\n[a](p.md#title-here) [b](nope.md) [c](docs/there.md#nope) [d](#title-here)\n"
                    "[e](https://example.com/x.md) docs/there.md docs/gone.md\n")
    assert broken_citations(page, tmp_path) == ["link nope.md", "anchor docs/there.md#nope", "path docs/gone.md"]
