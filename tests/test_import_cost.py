"""``import tiffin`` loads what defining a service needs, and no serving machinery (issue #14).

Each check runs in a fresh interpreter, since this test session has imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Loaded by to_asgi() and `tiffin serve`, never by `import tiffin`.
SERVE_TIME = [
    "anyio",
    "asyncio",
    "httpx",
    "multipart",
    "prometheus_client",
    "python_multipart",
    "starlette",
    "uvicorn",
    "tiffin.api_handler",
    "tiffin.app",
    "tiffin.command_process",
    "tiffin.local_proxy",
    "tiffin.request_scope",
]
# Loaded by the first @service, which validates its options with them.
DEFINITION_TIME = ["pydantic.main", "tiffin.config", "tiffin.config_groups"]


def loaded_after(code: str, modules: list[str]) -> list[str]:
    """Which of ``modules`` (or their submodules) are imported once ``code`` has run."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps([m for m in {modules!r} "
        "if any(n == m or n.startswith(m + '.') for n in sys.modules)]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_import_tiffin_loads_no_serving_machinery() -> None:
    assert loaded_after("import tiffin", SERVE_TIME + DEFINITION_TIME) == []


def test_defining_a_service_loads_its_configuration_but_not_the_server() -> None:
    code = (
        "import tiffin\n"
        "@tiffin.service(traffic={'timeout': 5})\n"
        "class Hello:\n"
        "    @tiffin.api\n"
        "    def hello(self, name: str) -> str:\n"
        "        return name\n"
    )
    assert loaded_after(code, DEFINITION_TIME) == DEFINITION_TIME
    assert loaded_after(code, SERVE_TIME) == []


@pytest.mark.parametrize("module", ["tiffin.api_handler", "tiffin.request_scope"])
def test_composing_the_app_loads_the_request_handling(module: str) -> None:
    code = (
        "import tiffin\n"
        "@tiffin.service\n"
        "class Hello:\n"
        "    @tiffin.api\n"
        "    def hello(self) -> str:\n"
        "        return 'hi'\n"
        "Hello.to_asgi()\n"
    )
    assert loaded_after(code, [module]) == [module]
