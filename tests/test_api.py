"""CONTRACT section 7: ``@api`` endpoints: routes, input, output, errors, threads."""

import asyncio
import logging
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pydantic
import pytest
from starlette.responses import Response

import tiffin
from tests.asgi import call_http
from tests.conftest import running_client
from tiffin import exceptions

GENERIC = {"error": "An unexpected error has occurred, please check the server log."}


class Point(pydantic.BaseModel):
    x: int
    y: int = 0


# --- routes ---------------------------------------------------------------------------


async def test_route_defaults_to_the_function_name() -> None:
    @tiffin.service
    class Svc:
        @tiffin.api
        def summarize(self, text: str) -> str:
            return text.upper()

    async with running_client(Svc) as client:
        response = await client.post("/summarize", json={"text": "hi"})

    assert response.status_code == 200
    assert response.text == "HI"


async def test_route_and_name_arguments() -> None:
    @tiffin.service
    class Svc:
        @tiffin.api(route="/v2/sum")
        def add(self, a: int, b: int) -> int:
            return a + b

        @tiffin.api(name="renamed")
        def original(self) -> str:
            return "by name"

    async with running_client(Svc) as client:
        by_route = await client.post("/v2/sum", json={"a": 1, "b": 2})
        old_route = await client.post("/add", json={"a": 1, "b": 2})
        by_name = await client.post("/renamed")
        old_name = await client.post("/original")

    assert (by_route.status_code, by_route.json()) == (200, 3)
    assert old_route.status_code == 404
    assert (by_name.status_code, by_name.text) == (200, "by name")
    assert old_name.status_code == 404


async def test_an_api_answers_post_only() -> None:
    @tiffin.service
    class Svc:
        @tiffin.api
        def hello(self) -> str:
            return "hi"

    async with running_client(Svc) as client:
        response = await client.get("/hello")

    assert response.status_code == 405
    assert "POST" in response.headers["allow"]


# --- input -------------------------------------------------------------------------------


def echo_service() -> Any:
    @tiffin.service
    class Echo:
        @tiffin.api
        def echo(self, text: str, count: int = 2, point: Point | None = None) -> dict[str, Any]:
            return {
                "text": text,
                "count": count,
                "point": None if point is None else point.model_dump(),
            }

        @tiffin.api
        def defaults(self, text: str = "default") -> str:
            return text

    return Echo


async def test_input_is_validated_and_converted_by_pydantic() -> None:
    async with running_client(echo_service()) as client:
        response = await client.post("/echo", json={"text": "a", "count": "3", "point": {"x": "1"}})

    assert response.status_code == 200
    assert response.json() == {"text": "a", "count": 3, "point": {"x": 1, "y": 0}}


async def test_defaults_apply_and_extra_keys_are_ignored() -> None:
    async with running_client(echo_service()) as client:
        response = await client.post("/echo", json={"text": "a", "unknown": 1})

    assert response.status_code == 200
    assert response.json() == {"text": "a", "count": 2, "point": None}


async def test_an_empty_body_is_an_empty_object() -> None:
    async with running_client(echo_service()) as client:
        empty = await client.post("/defaults")
        braces = await client.post("/defaults", content=b"{}")

    assert (empty.status_code, empty.text) == (200, "default")
    assert (braces.status_code, braces.text) == (200, "default")


def assert_error_object(response: Any) -> list[Any]:
    assert response.status_code == 400
    body = response.json()
    assert isinstance(body, dict)
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["detail"], list) and body["detail"]
    return body["detail"]


async def test_invalid_json_is_a_400_error_object() -> None:
    async with running_client(echo_service()) as client:
        response = await client.post("/echo", content=b'{"text": ')

    assert_error_object(response)


async def test_a_missing_required_parameter_is_a_400_error_object() -> None:
    async with running_client(echo_service()) as client:
        response = await client.post("/echo", json={})

    detail = assert_error_object(response)
    assert any(error["loc"] == ["text"] and error["type"] == "missing" for error in detail)


async def test_a_wrong_type_is_a_400_error_object_with_pydantic_errors() -> None:
    async with running_client(echo_service()) as client:
        response = await client.post("/echo", json={"text": "a", "count": "many"})

    detail = assert_error_object(response)
    assert any(error["loc"] == ["count"] for error in detail)
    assert "count" in response.json()["error"]


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"42", b"null", b"true"])
async def test_a_body_that_is_not_an_object_is_a_400_error_object(body: bytes) -> None:
    async with running_client(echo_service()) as client:
        response = await client.post("/echo", content=body)

    assert_error_object(response)


# --- output ------------------------------------------------------------------------------


async def test_a_str_is_plain_text() -> None:
    @tiffin.service
    class Svc:
        @tiffin.api
        def hello(self) -> str:
            return "Hello, ünïcode"

    async with running_client(Svc) as client:
        response = await client.post("/hello")

    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "Hello, ünïcode"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": 1}, {"a": 1}),
        ([1, "two", None], [1, "two", None]),
        (42, 42),
        (1.5, 1.5),
        (None, None),
        (True, True),
        (Point(x=1, y=2), {"x": 1, "y": 2}),
    ],
)
async def test_other_values_are_json(value: Any, expected: Any) -> None:
    @tiffin.service
    class Svc:
        @tiffin.api
        async def value(self) -> Any:
            return value

    async with running_client(Svc) as client:
        response = await client.post("/value")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected


async def test_a_starlette_response_passes_through() -> None:
    @tiffin.service
    class Svc:
        @tiffin.api
        def raw(self) -> Response:
            return Response(
                b"<b>raw</b>", status_code=201, media_type="text/html", headers={"x-raw": "1"}
            )

    async with running_client(Svc) as client:
        response = await client.post("/raw")

    assert response.status_code == 201
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-raw"] == "1"
    assert response.content == b"<b>raw</b>"


async def test_an_async_generator_streams_chunk_by_chunk() -> None:
    first_sent = asyncio.Event()

    @tiffin.service
    class Svc:
        @tiffin.api
        async def stream(self, n: int = 2) -> AsyncIterator[str]:
            yield "first "
            # only reached once the first chunk has left: proves nothing is buffered
            await asyncio.wait_for(first_sent.wait(), timeout=2)
            yield "second"

    async def on_send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body") == b"first ":
            first_sent.set()

    app = Svc.to_asgi()
    async with app.running():
        sent = await call_http(app, "POST", "/stream", b"{}", on_send)

    assert sent[0]["status"] == 200
    bodies = [m.get("body", b"") for m in sent if m["type"] == "http.response.body"]
    assert [b for b in bodies if b] == [b"first ", b"second"]


async def test_a_sync_generator_streams_chunk_by_chunk() -> None:
    first_sent = threading.Event()

    @tiffin.service
    class Svc:
        @tiffin.api
        def stream(self) -> Iterator[str]:
            yield "first "
            if not first_sent.wait(timeout=2):
                raise AssertionError("the first chunk was not sent before the second was made")
            yield "second"

    async def on_send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body") == b"first ":
            first_sent.set()

    app = Svc.to_asgi()
    async with app.running():
        sent = await call_http(app, "POST", "/stream", b"{}", on_send)

    assert sent[0]["status"] == 200
    bodies = [m.get("body", b"") for m in sent if m["type"] == "http.response.body"]
    assert [b for b in bodies if b] == [b"first ", b"second"]


async def test_a_streamed_response_reads_whole_over_httpx() -> None:
    @tiffin.service
    class Svc:
        @tiffin.api
        async def stream(self) -> AsyncIterator[str]:
            for word in ("a", "b", "c"):
                yield word

    async with running_client(Svc) as client:
        response = await client.post("/stream")

    assert response.status_code == 200
    assert response.text == "abc"


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("is_async", [True, False])
async def test_an_exception_in_user_code_is_a_generic_500_and_logged(
    is_async: bool, caplog: pytest.LogCaptureFixture
) -> None:
    def fail() -> str:
        raise ZeroDivisionError("secret detail 1234")

    @tiffin.service
    class Svc:
        @tiffin.api
        async def boom_async(self) -> str:
            return fail()

        @tiffin.api
        def boom_sync(self) -> str:
            return fail()

    with caplog.at_level(logging.ERROR):
        async with running_client(Svc) as client:
            response = await client.post("/boom_async" if is_async else "/boom_sync")

    assert response.status_code == 500
    assert response.json() == GENERIC
    assert "secret detail 1234" not in response.text
    assert any(
        r.exc_info is not None and "secret detail 1234" in str(r.exc_info[1])
        for r in caplog.records
    )
    assert "Traceback" in caplog.text
    assert "ZeroDivisionError" in caplog.text


@pytest.mark.parametrize(
    ("exception", "status"),
    [
        (exceptions.InvalidArgument, 400),
        (exceptions.NotFound, 404),
        (exceptions.UnprocessableEntity, 422),
        (exceptions.TooManyRequests, 429),
    ],
)
async def test_a_4xx_exception_answers_its_status_with_an_error_object(
    exception: type[Exception], status: int
) -> None:
    @tiffin.service
    class Svc:
        @tiffin.api
        def fail(self) -> str:
            raise exception("the message for the client")

    async with running_client(Svc) as client:
        response = await client.post("/fail")

    assert response.status_code == status
    assert response.json() == {"error": "the message for the client"}


@pytest.mark.parametrize(
    ("exception", "status"),
    [(exceptions.ServiceUnavailable, 503), (exceptions.BentoMLException, 500)],
)
async def test_a_5xx_exception_answers_its_status_with_the_generic_body(
    exception: type[Exception], status: int, caplog: pytest.LogCaptureFixture
) -> None:
    @tiffin.service
    class Svc:
        @tiffin.api
        async def fail(self) -> str:
            raise exception("server-side secret")

    with caplog.at_level(logging.ERROR):
        async with running_client(Svc) as client:
            response = await client.post("/fail")

    assert response.status_code == status
    assert response.json() == GENERIC
    assert "server-side secret" in caplog.text


# --- where code runs -----------------------------------------------------------------------


async def test_async_apis_run_on_the_loop_thread_and_sync_apis_in_a_worker_thread() -> None:
    @tiffin.service
    class Svc:
        @tiffin.api
        async def where_async(self) -> int:
            return threading.get_ident()

        @tiffin.api
        def where_sync(self) -> int:
            return threading.get_ident()

    loop_thread = threading.get_ident()
    async with running_client(Svc) as client:
        on_loop = (await client.post("/where_async")).json()
        in_worker = (await client.post("/where_sync")).json()

    assert on_loop == loop_thread
    assert in_worker != loop_thread


async def test_sync_apis_run_at_most_threads_at_once() -> None:
    lock = threading.Lock()
    running = 0
    peak = 0

    @tiffin.service(threads=2)
    class Svc:
        @tiffin.api
        def work(self) -> str:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.15)
            with lock:
                running -= 1
            return "done"

    async with running_client(Svc) as client:
        responses = await asyncio.gather(*(client.post("/work") for _ in range(4)))

    assert [r.status_code for r in responses] == [200] * 4
    assert peak == 2


async def test_a_sync_api_does_not_block_the_loop() -> None:
    release = threading.Event()

    @tiffin.service
    class Svc:
        @tiffin.api
        def blocked(self) -> str:
            release.wait(5)
            return "released"

        @tiffin.api
        async def quick(self) -> str:
            return "quick"

    async with running_client(Svc) as client:
        blocked = asyncio.create_task(client.post("/blocked"))
        quick = await asyncio.wait_for(client.post("/quick"), timeout=2)
        release.set()
        blocked_response = await blocked

    assert quick.text == "quick"
    assert blocked_response.text == "released"


def test_the_class_stays_callable() -> None:
    @tiffin.service
    class Svc:
        def __init__(self) -> None:
            self.greeting = "Hello"

        @tiffin.api
        def summarize(self, text: str) -> str:
            return f"{self.greeting}, {text}"

        @tiffin.api
        async def shout(self, text: str) -> str:
            return text.upper()

    instance = Svc()
    assert instance.summarize("x") == "Hello, x"
    assert asyncio.run(instance.shout("x")) == "X"


@pytest.mark.parametrize("route", ["no-slash", ""])
def test_a_route_must_start_with_a_slash(route: str) -> None:
    with pytest.raises(exceptions.BentoMLConfigException, match="route"):

        @tiffin.service
        class Svc:
            @tiffin.api(route=route)
            def hello(self) -> str:
                return "hi"


async def test_a_parameter_named_model_id_is_an_input_like_any_other() -> None:
    # pydantic below 2.10 warns about a "model_" field (an error under filterwarnings=error);
    # an ML API's model_id is no such conflict: the input model does not protect it.
    with warnings.catch_warnings():
        warnings.simplefilter("error")

        @tiffin.service
        class Svc:
            @tiffin.api
            def load(self, model_id: str, model_name: str = "default") -> str:
                return f"{model_id}/{model_name}"

    async with running_client(Svc) as client:
        response = await client.post("/load", json={"model_id": "tiny"})
    assert response.text == "tiny/default"
