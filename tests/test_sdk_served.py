"""The service SDK over a real socket: ``tiffin serve --arg``, ``@on_deployment`` once for
N workers, Context headers and cookies, a file in and a file out, CORS, the moved probe."""

from __future__ import annotations

from pathlib import Path

import httpx

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
