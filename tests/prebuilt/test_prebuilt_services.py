"""BentoML's prebuilt LLM services run under tiffin with the import line changed only.

Each is imported fresh per test (BentoSGLang adds its routes to a module-level
app in ``__init__``), in process and under ``tiffin serve``, and answers its
OpenAI-style routes as the real one would with the stand-in model.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.conftest import running_client
from tests.serving import free_port
from tiffin import command
from tiffin.arguments import ARGUMENTS_ENV

# BentoSGLang's /v1/models answers with FastAPI's ORJSONResponse, deprecated since: the
# service's own choice, kept as it is.
pytestmark = pytest.mark.filterwarnings("ignore:ORJSONResponse is deprecated")

HERE = Path(__file__).parent
REPO = HERE.parents[1]
FAKES = REPO / "tests" / "fake_packages"


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``fresh(name)``: the module ``tests.prebuilt.<name>`` run again as a new module object
    (in ``sys.modules`` for the test: pydantic resolves its annotations there)."""

    def load(name: str) -> ModuleType:
        spec = importlib.util.find_spec(f"tests.prebuilt.{name}")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, spec.name, module)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engines' stand-ins importable (torch, sglang, orjson...) and `vllm` on PATH."""
    monkeypatch.syspath_prepend(str(FAKES))
    for name in ("torch", "sglang", "transformers", "orjson", "vllm", "openai"):
        for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            monkeypatch.delitem(sys.modules, loaded)
    monkeypatch.setenv("PATH", f"{FAKES / 'bin'}{os.pathsep}{os.environ['PATH']}")
    # FastAPI looks orjson up once, when fastapi.responses is first imported.
    import fastapi.responses

    monkeypatch.setattr(fastapi.responses, "orjson", importlib.import_module("orjson"))


@pytest.fixture
def vllm_port(monkeypatch: pytest.MonkeyPatch, stand_ins: None) -> int:
    """`--arg port=P` for the service, and the proxy's default port (BentoML's 8000) moved to P."""
    port = free_port()
    monkeypatch.setenv(ARGUMENTS_ENV, json.dumps({"port": str(port)}))
    monkeypatch.setattr(command, "DEFAULT_PROXY_PORT", port)
    return port


# --- BentoVLLM: llama3.1-8b-instruct -------------------------------------------------------


async def test_bentovllm_proxies_openai_routes_to_vllm_serve(vllm_port: int, fresh: Any) -> None:
    module = fresh("bentovllm_llama3_1_8b_instruct")
    llm = module.LLM
    assert llm.name == "llama3.1-8b-instruct"
    async with running_client(llm) as client:
        models = (await client.get("/v1/models")).json()
        assert models["data"][0]["id"] == "meta-llama/Meta-Llama-3.1-8B-Instruct"
        chat = {"model": "m", "messages": [{"role": "user", "content": "hi there"}]}
        answer = (await client.post("/v1/chat/completions", json=chat)).json()
        assert answer["choices"][0]["message"]["content"] == "echo: hi there"
        streamed = await client.post("/v1/chat/completions", json={**chat, "stream": True})
        assert streamed.headers["content-type"].startswith("text/event-stream")
        events = [line for line in streamed.text.split("\n\n") if line]
        assert events[-1] == "data: [DONE]"
        words = [json.loads(e[6:])["choices"][0]["delta"]["content"] for e in events[:-1]]
        assert "".join(words) == "echo: hi there"
        metrics = (await client.get("/metrics")).text
        assert "vllm:num_requests_running 0" in metrics  # __metrics__ appended vLLM's
        assert "bentoml_service_request_total" in metrics
        assert (await client.get("/health")).status_code == 200  # endpoints: readyz moved


VLLM_TARGET = "tests.prebuilt.bentovllm_llama3_1_8b_instruct:LLM"


def test_bentovllm_under_tiffin_serve(stand_ins: None) -> None:
    port = free_port()
    with served_with_proxy_port(VLLM_TARGET, port, ready_path="/health") as url:
        chat = {"model": "m", "messages": [{"role": "user", "content": "served"}]}
        answer = httpx.post(f"{url}/v1/chat/completions", json=chat, timeout=10).json()
        assert answer["choices"][0]["message"]["content"] == "echo: served"
        assert "vllm:num_requests_running" in httpx.get(f"{url}/metrics").text


# --- BentoSGLang: qwen3 -------------------------------------------------------------------


async def test_bentosglang_serves_its_api_and_openai_routes(stand_ins: None, fresh: Any) -> None:
    module = fresh("bentosglang_qwen3")
    async with running_client(module.SGL) as client:
        generated = await client.post("/generate", json={"prompt": "hello"})
        assert generated.status_code == 200
        assert generated.text.startswith("stand-in answer (")
        too_few = await client.post("/generate", json={"max_tokens": 1})
        assert too_few.status_code == 400  # Annotated[int, Ge(128), ...]
        models = (await client.get("/v1/models")).json()
        assert models["data"][0]["id"] == "Qwen/Qwen3-235B-A22B-FP8"
        chat = {"messages": [{"role": "user", "content": "hi"}]}
        answer = (await client.post("/v1/chat/completions", json=chat)).json()
        assert answer["choices"][0]["message"]["content"] == "echo: hi"
        completion = (await client.post("/v1/completions", json={"prompt": "p"})).json()
        assert completion["choices"][0]["text"] == "echo: p"
    import sglang

    assert sglang.shutdowns[-1] == "Qwen/Qwen3-235B-A22B-FP8"  # on_shutdown stopped the engine


def test_bentosglang_under_tiffin_serve(stand_ins: None) -> None:
    with served_with_proxy_port("tests.prebuilt.bentosglang_qwen3:SGL", None) as url:
        generated = httpx.post(f"{url}/generate", json={"prompt": "x"}, timeout=10)
        assert generated.text.startswith("stand-in answer")
        assert httpx.get(f"{url}/v1/models").json()["data"][0]["id"].startswith("Qwen/")


# --- serving ------------------------------------------------------------------------------

LAUNCH = (
    "import sys, tiffin.command as c; p = sys.argv.pop(1); "
    "c.DEFAULT_PROXY_PORT = int(p) if p != '-' else c.DEFAULT_PROXY_PORT; "
    "from tiffin.cli import main; sys.exit(main(sys.argv[1:]))"
)


@contextlib.contextmanager
def served_with_proxy_port(
    target: str, proxy_port: int | None, ready_path: str = "/readyz"
) -> Iterator[str]:
    """``tiffin serve target`` (one worker) whose command proxy targets ``proxy_port``.

    BentoVLLM leaves ``http.proxy_port`` at BentoML's default, 8000, and passes the
    same port to vLLM; a test run moves both to a free port (``--arg port=``).
    """
    port = free_port()
    args: list[Any] = ["serve", target, "--port", str(port)]
    if proxy_port is not None:
        args += ["--arg", f"port={proxy_port}"]
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(FAKES), str(REPO), os.environ.get("PYTHONPATH")])
        ),
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(proxy_port or "-"), *args],
        cwd=REPO,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()[0]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}{ready_path}", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "tiffin serve was not ready in 30 s"
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


# --- OpenLLM: a model template (gemma3 1b) -------------------------------------------------


async def test_openllm_template_serves_vllm_routes_ui_and_its_api(
    stand_ins: None, fresh: Any
) -> None:
    module = fresh("openllm_gemma3_1b")
    import vllm.entrypoints.openai.api_server as vllm_api_server

    async with running_client(module.LLM) as client:
        generated = await client.post("/generate", json={"prompt": "ahoy"})
        assert generated.text == "Arr, stand-in says: ahoy "
        models = (await client.get("/v1/models")).json()
        assert models["data"][0]["id"] == "google/gemma-3-1b-it"
        chat = {"messages": [{"role": "user", "content": "hi"}]}
        answer = (await client.post("/v1/chat/completions", json=chat)).json()
        assert answer["choices"][0]["message"]["content"] == "echo: hi"
        assert "stand-in chat page" in (await client.get("/chat/")).text
        assert "stand-in chat page" in (await client.get("/chat/some/route")).text
        # The router's lifespan joined the app's after the app was mounted: it ran.
        assert vllm_api_server.events[:2] == ["engine started", "vllm lifespan startup"]
    assert vllm_api_server.events[-2:] == ["vllm lifespan shutdown", "engine stopped"]


def test_openllm_template_under_tiffin_serve(stand_ins: None) -> None:
    with served_with_proxy_port("tests.prebuilt.openllm_gemma3_1b:LLM", None) as url:
        answer = httpx.post(f"{url}/generate", json={"prompt": "x"}, timeout=10)
        assert answer.text.startswith("Arr, stand-in")
        assert httpx.get(f"{url}/v1/models").json()["data"][0]["id"] == "google/gemma-3-1b-it"
