"""A pytest plugin for tox's ``httpx2`` environments: ``import httpx`` is httpx2 in the whole run.

httpx2 (https://github.com/pydantic/httpx2) continues httpx under a new name; its
``alias_httpx()`` makes ``import httpx`` and ``import httpcore`` resolve to httpx2 and
httpcore2, for code that imports httpx (tiffin's harness, httpx-ws, the tests). It has
to run before anything imports httpx, so it cannot live in a conftest.py: pytest loads
the plugins installed as entry points (tiffin's among them) before any conftest.py.
``python -m pytest -p httpx2_alias`` (with this directory on PYTHONPATH) loads it first.
"""

from __future__ import annotations

import httpx2

httpx2.alias_httpx()

import httpcore  # noqa: E402
import httpx  # noqa: E402

if httpx is not httpx2 or httpcore.__name__ != "httpcore2":
    raise ImportError(f"httpx2.alias_httpx() did not take: httpx is {httpx.__file__}")


def pytest_report_header() -> str:
    return f"httpx: httpx2 {httpx2.__version__} (import httpx resolves to httpx2)"
