"""Where BentoML is installed (`tox -e bentoml`), its own deprecation warnings are not ours.

The repository's pytest configuration turns warnings into errors; BentoML 1.4.40
emits these itself, so they are ignored by their exact text, and only there.
"""

from __future__ import annotations

import importlib.util

import pytest

BENTOML_WARNINGS = [
    # `import bentoml` builds pathspec "gitwildmatch" patterns, which pathspec deprecates.
    r"ignore:GitWildMatchPattern \('gitwildmatch'\) is deprecated:DeprecationWarning",
    # @bentoml.api builds its input model through a method pydantic 2.11 deprecates.
    "ignore:The `__get_pydantic_core_schema__` method of the `BaseModel` class is deprecated"
    ":pydantic.warnings.PydanticDeprecatedSince211",
    # Every @bentoml.api request reads `model_fields` on an instance (pydantic 2.11).
    "ignore:Accessing the 'model_fields' attribute on the instance is deprecated"
    ":pydantic.warnings.PydanticDeprecatedSince211",
]


def pytest_configure(config: pytest.Config) -> None:
    if importlib.util.find_spec("bentoml") is not None:
        for line in BENTOML_WARNINGS:
            config.addinivalue_line("filterwarnings", line)
