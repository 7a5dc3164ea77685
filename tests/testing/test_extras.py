"""``tiffin[test]`` is what a user's harness needs, none of tiffin's own test tooling."""

from __future__ import annotations

from importlib.metadata import requires

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def extra_requirements(extra: str) -> set[str]:
    """The distributions ``pip install "tiffin[extra]"`` asks for, following tiffin[...] links."""
    names: set[str] = set()
    for text in requires("tiffin") or []:
        requirement = Requirement(text)
        if requirement.marker is None or not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        if name == "tiffin":
            for inner in requirement.extras:
                names |= extra_requirements(inner)
        else:
            names.add(name)
    return names


def test_the_test_extra_is_the_harness_alone() -> None:
    assert extra_requirements("test") == {"pytest", "pytest-asyncio", "httpx", "httpx-ws", "anyio"}


def test_tiffins_own_tooling_is_in_the_dev_extra() -> None:
    dev = extra_requirements("dev")
    assert {"schemathesis", "hypothesis", "quart", "fastapi", "asgi-lifespan"} <= dev
    assert extra_requirements("test") <= dev
