"""The public surface of ``tiffin.testing``, pinned as httpx pins its own."""

from __future__ import annotations

import subprocess
import sys

import tiffin.testing

PUBLIC_NAMES = [
    "APIError",
    "DeadlineExceeded",
    "HarnessSettings",
    "InProcessTransport",
    "LiveServer",
    "ServiceClient",
    "TiffinAsyncClient",
    "TiffinClient",
    "WrongEventLoop",
]


def test_all_is_sorted_and_pinned() -> None:
    assert tiffin.testing.__all__ == sorted(tiffin.testing.__all__) == PUBLIC_NAMES


def test_the_package_exposes_exactly_all_also_after_every_lazy_import() -> None:
    # In a fresh interpreter, with the plugin loaded as pytest loads it. Submodules are
    # attributes of a package once imported (Python's import system), and public by path.
    code = (
        "import types, tiffin.testing as t, tiffin.testing.plugin\n"
        "names = lambda: sorted(\n"
        "    n for n, v in vars(t).items() if n[0] != '_' and not isinstance(v, types.ModuleType)\n"
        ")\n"
        "print(' '.join(names()))\n"
        "[getattr(t, name) for name in t._NEED_HTTPX]\n"
        "print(' '.join(names()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    before, after = result.stdout.splitlines()
    assert before.split() == [n for n in PUBLIC_NAMES if n not in tiffin.testing._NEED_HTTPX]
    assert after.split() == PUBLIC_NAMES


def test_every_public_name_exists() -> None:
    assert [name for name in PUBLIC_NAMES if not hasattr(tiffin.testing, name)] == []
