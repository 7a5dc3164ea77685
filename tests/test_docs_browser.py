"""`/docs` opened in headless Chromium: Swagger UI renders the APIs and mounted routes, offline.

Chromium is Debian's ``chromium`` package. A fresh machine does not have it, so
the session fixture below installs it with apt-get (as root) and fails, never
skips, when that is impossible. The browser runs with every background network
feature off; the page is served from 127.0.0.1 and must need nothing else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving import REPO, served

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "artifacts"
INSTALL = (
    "apt-get update && DEBIAN_FRONTEND=noninteractive "
    "apt-get install -y --no-install-recommends chromium"
)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed now if it is missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(
            f"{CHROMIUM} is missing and cannot be installed here (needs root and apt-get); "
            f"install it with: {INSTALL}",
            pytrace=False,
        )
    try:
        result = subprocess.run(
            ["sh", "-c", INSTALL], capture_output=True, text=True, timeout=900, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"installing chromium took more than 15 minutes: {INSTALL}", pytrace=False)
    if result.returncode != 0 or not CHROMIUM.exists():
        pytest.fail(
            f"installing chromium failed (exit {result.returncode}); ran: {INSTALL}\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture
def profile_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="tiffin-chromium-") as directory:
        yield Path(directory)


def headless(chromium: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(chromium),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--metrics-recording-only",
        "--no-default-browser-check",
        f"--user-data-dir={profile}",
        # Every host but loopback resolves nowhere: a CDN request could not succeed.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--proxy-server=direct://",
        "--virtual-time-budget=15000",
        "--window-size=1280,1600",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_swagger_ui_renders_apis_and_mounted_routes_offline(
    chromium: Path, profile_dir: Path
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "docs.png"
    screenshot.unlink(missing_ok=True)
    with served("examples/fastapi_mount/service.py:MyService") as url:
        dom = headless(chromium, profile_dir, "--dump-dom", f"{url}/docs")
        shot = headless(chromium, profile_dir, f"--screenshot={screenshot}", f"{url}/docs")

    assert dom.returncode == 0, dom.stderr[-2000:]
    page = dom.stdout
    # Rendered by Swagger UI's JavaScript, not present in the HTML tiffin sends.
    assert 'class="swagger-ui' in page, page[:2000]
    assert "Unable to render this definition" not in page
    # Operations as Swagger UI renders them: the @api, the mounted FastAPI app's
    # routes under their prefix, the infrastructure routes.
    for path in ("/greet", "/v1/hello", "/v1/hello1", "/readyz", "/metrics"):
        assert f'data-path="{path}"' in page, path
    assert "unpkg.com" not in page and "cdn.jsdelivr" not in page
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.stat().st_size > 10_000
    assert screenshot.read_bytes().startswith(b"\x89PNG")
