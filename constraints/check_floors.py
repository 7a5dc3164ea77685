"""Fail unless this environment runs exactly the minimum versions pyproject.toml declares.

    python constraints/check_floors.py

tox's ``lowest`` environments run it after installing with constraints/lowest.txt.
For every requirement of tiffin (its dependencies and the extras listed in
``EXTRAS``), the declared floor (the ``>=`` or ``==`` bound), the pin in
constraints/lowest.txt and the installed version must be one version; the running
Python must be the floor of ``requires-python``. One line per requirement; exit
status 1 when any disagrees.
"""

from __future__ import annotations

import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PINS = ROOT / "constraints" / "lowest.txt"
# What the lowest environment installs. Not here: `bentoml` (its own environment and
# version range) and `tox` (the tool that runs the tests, not what is tested).
EXTRAS = ("fastapi", "quart", "servers", "test", "dev", "summarization")
# Linters in the dev extra: they check the code, they are not tested at a floor.
TOOLS = frozenset({"ruff", "mypy"})


def declared_floors() -> tuple[Version, dict[str, Version]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    python = _floor(Requirement(f"python{project['requires-python']}"))
    texts = list(project["dependencies"])
    for extra in EXTRAS:
        if extra not in project["optional-dependencies"]:
            raise SystemExit(f"pyproject.toml declares no extra {extra!r}")
        texts += project["optional-dependencies"][extra]
    floors = {}
    for text in texts:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name != "tiffin" and name not in TOOLS:  # tiffin[fastapi,...]: listed above
            floors[name] = _floor(requirement)
    return python, floors


def _floor(requirement: Requirement) -> Version:
    bounds = [Version(s.version) for s in requirement.specifier if s.operator in (">=", "==")]
    if len(bounds) != 1:
        raise SystemExit(f"pyproject.toml: {requirement} must declare one floor (>= or ==)")
    return bounds[0]


def pinned_versions() -> dict[str, Version]:
    pins = {}
    for line in PINS.read_text().splitlines():
        line = line.partition("#")[0].strip()
        if line:
            name, _, pinned = line.partition("==")
            pins[canonicalize_name(name)] = Version(pinned)
    return pins


def installed_version(name: str) -> Version | None:
    try:
        return Version(Version(version(name)).public)  # torch 2.13.0+cpu is 2.13.0
    except PackageNotFoundError:
        return None


def main() -> int:
    python_floor, floors = declared_floors()
    pins = pinned_versions()
    running = Version("{}.{}".format(*sys.version_info[:2]))
    rows = [("python", python_floor, python_floor, running)]
    rows += [(n, f, pins.get(n), installed_version(n)) for n, f in sorted(floors.items())]
    rows += [(n, None, p, installed_version(n)) for n, p in sorted(pins.items()) if n not in floors]
    failed = False
    print(f"{'':20} {'declared':>10} {'pinned':>10} {'installed':>10}")
    for name, floor, pinned, installed in rows:
        agree = floor is not None and floor == pinned == installed
        failed |= not agree
        cells = [f"{str(v) if v is not None else '-':>10}" for v in (floor, pinned, installed)]
        print(f"{name:20} {' '.join(cells)}  {'ok' if agree else 'DIFFERS'}")
    if failed:
        print(
            "\nThe lowest environment must install exactly the floors pyproject.toml declares: "
            f"change pyproject.toml or {PINS.relative_to(ROOT)} so the three columns agree."
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
