"""Tests of tiffin's harness with BentoML services: run only where bentoml is installed.

    .venv-bentoml/bin/python -m pytest tests_bentoml

The main test run (``pytest``, ``testpaths = ["tests"]``) never collects this folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tiffin.testing.bentoml import BENTOML_WARNINGS

pytest_plugins = ["pytester"]


def pytest_configure(config: pytest.Config) -> None:
    for line in BENTOML_WARNINGS:
        config.addinivalue_line("filterwarnings", line)


@pytest.fixture(autouse=True, scope="session")
def bentoml_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """BentoML's home (model store, bentoml serve's prometheus dir) in a temporary folder."""
    home = tmp_path_factory.mktemp("bentoml-home")
    old = os.environ.get("BENTOML_HOME")
    os.environ["BENTOML_HOME"] = str(home)
    yield home
    if old is None:
        del os.environ["BENTOML_HOME"]
    else:
        os.environ["BENTOML_HOME"] = old
