"""Dependency floors stay above releases with published security advisories."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

# Package -> the first release without a published advisory that concerns us (GHSA/CVE).
FIXED_IN = {
    # request smuggling, unbounded pipelining, cookie and static-file advisories up to 3.14.0
    "aiohttp": Version("3.14.1"),
    # CVE-2025-47273 (path traversal in PackageIndex), CVE-2024-6345
    "setuptools": Version("78.1.1"),
    # CVE-2024-3772 (email validation ReDoS)
    "pydantic": Version("2.4.0"),
    # CVE-2021-42771 (locale path traversal)
    "babel": Version("2.9.1"),
}


def _requirements() -> list[Requirement]:
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    listed = [*data["build-system"]["requires"], *data["project"]["dependencies"]]
    for extra in data["project"]["optional-dependencies"].values():
        listed.extend(extra)
    return [Requirement(line) for line in listed]


def test_every_floor_is_above_the_last_release_with_an_advisory() -> None:
    seen = set()
    for requirement in _requirements():
        name = requirement.name.lower()
        if name not in FIXED_IN:
            continue
        seen.add(name)
        floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
        assert floors, f"{name} has no floor"
        assert min(floors) >= FIXED_IN[name], f"{name} allows releases with advisories"
    assert seen == set(FIXED_IN)


def test_every_dependency_has_a_range_not_an_open_end() -> None:
    for requirement in _requirements():
        if requirement.name.lower() in ("tzdata", "wheel"):
            continue  # time-zone data must never be capped; wheel is only a build tool
        operators = {s.operator for s in requirement.specifier}
        assert ">=" in operators, requirement
        assert "<" in operators, requirement
