"""An in-process startup failure shows the step, the cause and the user's frames, without
tiffin's own frames (issue 15, item 6)."""

from __future__ import annotations

import pytest

# Imported here so every pytester run below shares one copy of the module (pytester
# drops modules first imported during a run).
import tests.testing.failing_services
from tests.testing.failing_services import line_of

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
addopts = --strict-markers -p no:cacheprovider -p no:randomly
"""

TESTS = """
import pytest

from tests.testing.failing_services import FailingAsyncHook, FailingHook


@pytest.mark.tiffin_service(FailingHook)
async def test_sync_hook(tiffin_client):
    pass


@pytest.mark.tiffin_service(FailingAsyncHook)
async def test_async_hook(tiffin_client):
    pass
"""

SOURCE = tests.testing.failing_services.__file__


@pytest.mark.parametrize("args", [(), ("--full-trace",)], ids=["default", "full-trace"])
def test_the_failure_shows_the_users_frames_and_no_internal_ones(
    pytester: pytest.Pytester, args: tuple[str, ...]
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(TESTS)
    result = pytester.runpytest(*args)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*tiffin: service 'FailingHook' failed to start: on_startup hook 'load_model' "
            "raised ModelMissing: model weights not found at /models/missing.bin",
            "*The cause, in your code (most recent call last):",
            f'*File "{SOURCE}", line {line_of("the hook calls here")}, in load_model',
            "*read_weights(*",
            f'*File "{SOURCE}", line {line_of("the cause is raised here")}, in read_weights',
            "*ModelMissing: model weights not found at /models/missing.bin",
            "*tiffin: service 'FailingAsyncHook' failed to start*",
            f'*File "{SOURCE}", line {line_of("the async hook calls here")}, in load_model',
        ]
    )
    if not args:  # --full-trace asks for every frame, pytest's and tiffin's included
        output = result.stdout.str()
        assert "tiffin/lifespan.py" not in output and "tiffin/testing/" not in output, output
