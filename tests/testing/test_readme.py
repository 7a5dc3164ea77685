"""The README's "Testing your service" runs as written: its blocks are a project and its tests.

Each Python block of the section starts with a comment naming its file
(``# myproject/service.py``); the blocks are written there and pytest runs them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parents[2] / "README.md"


def section_blocks() -> dict[str, str]:
    text = README.read_text()
    section = text.split("## Testing your service", 1)[1].split("\n## ", 1)[0]
    blocks = {}
    for code in re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL):
        first = code.partition("\n")[0]
        assert first.startswith("# ") and first.endswith(".py"), first
        blocks[first[2:]] = code
    return blocks


def test_the_section_holds_a_service_and_its_tests() -> None:
    assert sorted(section_blocks()) == [
        "myproject/service.py",
        "tests/test_properties.py",
        "tests/test_service.py",
    ]


def test_the_readme_tests_pass(pytester: pytest.Pytester) -> None:
    for path, code in section_blocks().items():
        target = pytester.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code)
    (pytester.path / "myproject" / "__init__.py").write_text("")
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\naddopts = --strict-markers -p no:cacheprovider\n"
    )
    pytester.syspathinsert()
    result = pytester.runpytest("tests")
    result.assert_outcomes(passed=4)
