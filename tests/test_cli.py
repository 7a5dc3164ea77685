"""`tiffin serve`'s command line: help, worker count, banner, --reload, the README command."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.services import sized
from tests.serving import REPO, served, serving, tiffin_command
from tiffin.exceptions import BentoMLConfigException
from tiffin.serving import worker_count


def test_serve_help_names_every_option_and_the_target_forms() -> None:
    result = subprocess.run(
        tiffin_command("serve", "--help"), capture_output=True, text=True, timeout=30, cwd=REPO
    )
    assert result.returncode == 0
    text = result.stdout
    for option in (
        "--host",
        "--port",
        "--workers N",
        "--timeout SECONDS",
        "--graceful-timeout SECONDS",
        "--reload",
        "--log-level",
    ):
        assert option in text, option
    assert "path/to/file.py:Service" in text
    assert "(default: 127.0.0.1)" in text and "(default: 3000)" in text
    assert "SIGTERM" in text


def test_serve_needs_tiffin_alone_and_conformance_names_the_test_extra() -> None:
    without = REPO / "tests" / "without_test_extra"  # `import httpx` fails there
    with served("tests.services.slow:Slow", extra_path=without) as url:
        assert httpx.post(f"{url}/wait", json={"seconds": 0}).text == "done"
    result = subprocess.run(
        tiffin_command("conformance", "--reference"),
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(without)},
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "tiffin: error: tiffin conformance needs 'httpx', which is not installed: it comes "
        'with tiffin\'s test extra. Fix: pip install "tiffin[test]"\n'
    )


@pytest.mark.parametrize(
    ("service", "requested", "expected"),
    [
        (sized.ByWorkers, None, 3),  # workers= wins over resources
        (sized.ByCpu, None, 2),
        (sized.ByMillicpu, None, 1),
        (sized.Unsized, None, 1),
        (sized.ByWorkers, 5, 5),  # --workers wins over both
    ],
)
def test_worker_count_defaults(service: object, requested: int | None, expected: int) -> None:
    assert worker_count(service, requested) == expected  # type: ignore[arg-type]


def test_worker_count_must_be_positive() -> None:
    with pytest.raises(BentoMLConfigException, match="--workers must be at least 1, got 0"):
        worker_count(sized.Unsized, 0)


def test_the_banner_shows_service_mounts_routes_and_docs() -> None:
    with serving("examples/fastapi_mount/service.py:MyService") as server:
        deadline = time.monotonic() + 5
        while "docs" not in server.output and time.monotonic() < deadline:
            time.sleep(0.05)
    banner = server.output
    assert (
        "tiffin: serving MyService (examples/fastapi_mount/service.py:MyService) "
        f"on {server.url} with 1 worker"
    ) in banner
    assert "  api    POST /greet" in banner
    assert re.search(r"  mount  /v1 +fastapi", banner)
    assert "GET /v1/hello\n" in banner and "GET /v1/hello1\n" in banner
    assert f"  docs   {server.url}/docs" in banner


def test_reload_serves_the_edited_file(tmp_path: Path) -> None:
    directory = tmp_path
    source = directory / "reloaded.py"
    template = (
        "import tiffin\n\n\n@tiffin.service\nclass Reloaded:\n"
        "    @tiffin.api\n    def version(self) -> str:\n        return {!r}\n"
    )
    source.write_text(template.format("one"))
    with serving("reloaded.py:Reloaded", "--reload", cwd=directory) as server:
        assert httpx.post(f"{server.url}/version").text == "one"
        time.sleep(1.1)  # a later mtime than the first version's
        source.write_text(template.format("two"))
        deadline = time.monotonic() + 15
        answer = ""
        while answer != "two" and time.monotonic() < deadline:
            try:
                answer = httpx.post(f"{server.url}/version", timeout=2).text
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    assert answer == "two", server.output


def readme_serve_command() -> tuple[str, list[tuple[str, str]]]:
    """The README's main command (the serve part) and its documented curl answers."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Two commands for a fresh machine", 1)[1]
    command = next(line for line in section.splitlines() if "tiffin serve" in line)
    serve = command.split("&&")[-1].strip()
    console = re.search(r"```console\n(.*?)```", section, re.S)
    assert console is not None
    exchanges = re.findall(r"^\$ (curl .*)\n(.*)$", console.group(1), re.M)
    return serve, exchanges


def test_the_readme_main_command_serves_what_the_readme_shows() -> None:
    serve, exchanges = readme_serve_command()
    words = shlex.split(serve)
    assert words[:2] == [".venv/bin/tiffin", "serve"], serve
    assert exchanges, "the README shows no curl exchange"
    with serving(*words[2:]) as server:
        for curl, expected in exchanges:
            args = shlex.split(curl)[1:]
            url = next(arg for arg in args if arg.startswith("http://127.0.0.1:3000"))
            url = url.replace("http://127.0.0.1:3000", server.url)
            if "-d" in args:
                body = args[args.index("-d") + 1]
                answer = httpx.post(url, content=body, headers={"content-type": "application/json"})
            else:
                answer = httpx.get(url)
            assert (answer.status_code, answer.text) == (200, expected), curl
