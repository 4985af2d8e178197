"""The files of a published package: LICENSE, CITATION.cff, CHANGELOG.md, pyproject.toml."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _project() -> dict:
    """The ``[project]`` table of pyproject.toml."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the two keys read here are plain strings
        table = text.split("[project]", 1)[1].split("\n[", 1)[0]
        return dict(re.findall(r'^(version|license) = "([^"]*)"$', table, re.MULTILINE))
    return tomllib.loads(text)["project"]


def test_citation_file() -> None:
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))
    for key in ("cff-version", "message", "title", "authors", "type", "license", "version"):
        assert citation.get(key), key
    assert citation["cff-version"] == "1.2.0"
    assert citation["type"] == "software"
    assert citation["authors"] == [{"name": "smlmLP contributors"}]  # an entity
    assert citation["license"] == _project()["license"] == "MIT"
    assert citation["version"] == _project()["version"]
    released = str(citation["date-released"])  # a string, as the CFF schema asks
    assert isinstance(citation["date-released"], str)
    assert date.fromisoformat(released) == date(2026, 12, 2)


def test_license_and_changelog() -> None:
    license_text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert license_text.startswith("MIT License")
    assert "Copyright (c) 2026 smlmLP contributors" in license_text
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(_project()['version'])}\]", changelog, re.MULTILINE)
