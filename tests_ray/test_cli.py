"""`tiffin serve --ray`: options that do not go together are named before Ray starts."""

from __future__ import annotations

import pytest

from tiffin.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--replicas", "2"], "--replicas needs --ray"),
        (["--address", "auto"], "--address needs --ray"),
        (["--ray", "--workers", "2"], "--workers is for uvicorn; on Ray Serve use --replicas"),
        (["--ray", "--reload"], "--reload does not apply to --ray"),
        (["--ray", "--replicas", "0"], "--replicas must be at least 1, got 0"),
    ],
)
def test_misused_ray_options_are_named(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "service.py:MyService", *argv])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
