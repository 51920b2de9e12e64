"""The docs' generated tables match the code, and every relative link resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from docs import generate

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
EXTERNAL = ("http://", "https://", "mailto:")


@pytest.mark.parametrize("path", sorted(generate.tables()), ids=lambda path: path.name)
def test_generated_tables_are_current(path: Path) -> None:
    expected = generate.expected_texts()[path]
    assert path.read_text(encoding="utf-8") == expected, (
        f"the generated table in {path.relative_to(ROOT)} is stale: "
        f"run `{generate.COMMAND}` and commit the result"
    )


def relative_links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))  # code blocks hold no links
    return [
        target
        for target in LINK.findall(text)
        if not target.startswith(EXTERNAL) and not target.startswith("#")
    ]


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_point_to_files(path: Path) -> None:
    missing = [
        target
        for target in relative_links(path)
        if not (path.parent / target.split("#", 1)[0]).exists()
    ]
    assert not missing, f"{path.relative_to(ROOT)} links to missing files: {missing}"


def test_docs_exist_and_are_linked_from_the_readme() -> None:
    linked = set(relative_links(ROOT / "README.md"))
    for name in ("architecture", "http-api", "operations", "security", "methods"):
        assert f"docs/{name}.md" in linked


def test_a_stale_region_is_rewritten() -> None:
    text = "before\n<!-- generated:routes -->\nold\n<!-- end generated -->\nafter\n"
    new = generate.replace_region(text, "routes", "| a |")
    assert new == "before\n<!-- generated:routes -->\n| a |\n<!-- end generated -->\nafter\n"
    with pytest.raises(ValueError):
        generate.replace_region("no markers", "routes", "| a |")
