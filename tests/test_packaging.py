"""The package metadata against the files that install and test it."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]


def pins(path: Path) -> dict[str, Version]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            out[name.strip().lower()] = Version(version.strip())
    return out


def test_the_declared_floors_are_what_make_test_min_installs():
    """Each core dependency is `name>=floor` with no cap, and requirements/min.txt pins exactly that
    floor (a floor written as 13.7 while 13.7.1 is tested would claim an untested version)."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    floors = {}
    for dep in map(Requirement, deps):
        (spec,) = dep.specifier  # one specifier each: a floor, no upper cap
        assert spec.operator == ">=", f"{dep}: the core dependencies have floors only"
        floors[dep.name.lower()] = Version(spec.version)
    pinned = pins(REPO / "requirements" / "min.txt")
    assert pinned.keys() == floors.keys()
    for name, floor in floors.items():
        # Version("2.1") == Version("2.1.0"), but Version("13.7") != Version("13.7.1")
        assert pinned[name] == floor, f"{name}: pyproject says >={floor}, requirements/min.txt installs {pinned[name]}"
