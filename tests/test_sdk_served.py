"""The service SDK over a real socket: ``tiffin serve --arg``, ``@on_deployment`` once for
N workers, Context headers and cookies, a file in and a file out, CORS, the moved probe."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.serving import serving


def test_sdk_features_over_tiffin_serve_with_two_workers(tmp_path: Path) -> None:
    deploy_log = tmp_path / "deployed"
    with serving(
        "tests.services.sdk_features:SdkFeatures",
        "--workers",
        "2",
        "--arg",
        "model_name=large",
        env={"TIFFIN_TEST_DEPLOY_LOG": str(deploy_log)},
    ) as server:
        model = httpx.post(f"{server.url}/model", headers={"origin": "https://app.example"})
        upper = httpx.post(
            f"{server.url}/upper", files={"document": ("notes.txt", b"abc", "text/plain")}
        )
        health = httpx.get(f"{server.url}/health")
    assert (model.status_code, model.text) == (200, "large")
    assert model.headers["x-model"] == "large"
    assert "seen=1" in model.headers["set-cookie"]
    assert model.headers["access-control-allow-origin"] == "https://app.example"
    assert upper.content == b"ABC"
    assert upper.headers["content-disposition"] == 'attachment; filename="upper.txt"'
    assert health.status_code == 200
    # once, in the supervisor, before the workers started
    assert deploy_log.read_text().split() == [str(server.process.pid)]
    banner = server.output
    assert "/readyz /metrics /health" in banner
    assert "traffic.external_queue = True" in banner
    assert "image = Image(python 3.11; requirements_file(requirements.txt))" in banner
    assert "GET /health" not in banner  # a probe path: left out of the access log


def test_a_malformed_arg_is_refused_before_serving() -> None:
    import subprocess

    from tests.serving import tiffin_command

    result = subprocess.run(
        tiffin_command("serve", "tests.services.sdk_features:SdkFeatures", "--arg", "oops"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--arg 'oops': write it as KEY=VALUE" in result.stderr


def test_ssl_config_serves_over_tls(tmp_path: Path) -> None:
    import os
    import subprocess
    import time

    from tests.serving import REPO, free_port, tiffin_command

    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(tmp_path / "key.pem"),
         "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    port = free_port()
    env = {**os.environ, "TIFFIN_TEST_CERT_DIR": str(tmp_path)}
    process = subprocess.Popen(
        tiffin_command("serve", "tests.services.tls:Tls", "--port", str(port)),
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                response = httpx.post(f"https://127.0.0.1:{port}/ping", verify=False, timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "not serving over TLS in 20 s"
                time.sleep(0.1)
        with pytest.raises(httpx.HTTPError):
            httpx.post(f"http://127.0.0.1:{port}/ping", timeout=2)
    finally:
        process.terminate()
        output = process.communicate(timeout=15)[0]
    assert response.text == "pong"
    assert f"on https://127.0.0.1:{port}" in output


def test_ssl_enabled_without_a_certfile_is_refused() -> None:
    import tiffin
    from tiffin.exceptions import BentoMLConfigException
    from tiffin.serving import ssl_options

    @tiffin.service(ssl={"enabled": True})
    class NoCert:
        pass

    with pytest.raises(BentoMLConfigException, match="'NoCert': ssl is enabled but names no"):
        ssl_options(NoCert)
