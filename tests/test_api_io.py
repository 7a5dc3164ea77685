"""Root input, file input and output, and BentoML's validation-error text (api_io.py)."""

from __future__ import annotations

import pathlib
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

import tiffin
from tests.conftest import running_client
from tiffin.exceptions import BentoMLConfigException
from tiffin.validators import ContentType


class Item(BaseModel):
    name: str
    price: float


def io_service(tmp_path: pathlib.Path) -> tiffin.Service[Any]:
    @tiffin.service
    class IO:
        @tiffin.api
        def shout(self, text: str, /) -> str:
            return text.upper()

        @tiffin.api
        def total(self, items: list[Item], /) -> float:
            return sum(item.price for item in items)

        @tiffin.api
        def count(self, numbers: list[int] = [1, 2], /) -> int:  # noqa: B006
            return len(numbers)

        @tiffin.api
        def describe(
            self, document: Annotated[pathlib.Path, ContentType("text/*")], times: int = 1
        ) -> dict[str, Any]:
            return {"name": document.name, "text": document.read_text() * times}

        @tiffin.api
        def sizes(self, files: list[pathlib.Path], label: str = "") -> list[Any]:
            return [label, *(path.stat().st_size for path in files)]

        @tiffin.api
        def image_size(self, image: Annotated[pathlib.Path, ContentType("image/png")], /) -> int:
            return image.stat().st_size

        @tiffin.api
        def report(self) -> pathlib.Path:
            path = tmp_path / "report.csv"
            path.write_text("a,b\n1,2\n")
            return path

        @tiffin.api
        def picture(self) -> Annotated[pathlib.Path, ContentType("image/png")]:
            path = tmp_path / "picture"  # no suffix: the annotation names the type
            path.write_bytes(b"\x89PNG")
            return path

        @tiffin.api
        def page(self) -> Annotated[str, ContentType("text/html")]:
            return "<p>hi</p>"

    return IO


# --- root input ---------------------------------------------------------------------------------


async def test_root_input_str_takes_the_raw_body(tmp_path: pathlib.Path) -> None:
    async with running_client(io_service(tmp_path)) as client:
        response = await client.post(
            "/shout", content="hello", headers={"content-type": "text/plain"}
        )
    assert response.text == "HELLO"


async def test_root_input_json_takes_the_whole_body(tmp_path: pathlib.Path) -> None:
    async with running_client(io_service(tmp_path)) as client:
        total = await client.post(
            "/total", json=[{"name": "a", "price": 1.5}, {"name": "b", "price": 2}]
        )
        default = await client.post("/count")
        invalid = await client.post("/total", json={"items": []})
    assert total.json() == 3.5
    assert default.json() == 2
    assert invalid.status_code == 400
    assert invalid.json()["error"].startswith("1 validation error for ")


def test_root_input_with_other_parameters_is_refused_at_definition() -> None:
    with pytest.raises(BentoMLConfigException) as info:

        @tiffin.service
        class Mixed:
            @tiffin.api
            def f(self, text: str, /, other: int = 1) -> str:
                return text

    assert "'f'" in str(info.value)
    assert "other" in str(info.value)


async def test_root_input_is_documented_as_its_own_type(tmp_path: pathlib.Path) -> None:
    async with running_client(io_service(tmp_path)) as client:
        schema = (await client.get("/docs.json")).json()
    assert list(schema["paths"]["/shout"]["post"]["requestBody"]["content"]) == ["text/plain"]
    assert list(schema["paths"]["/describe"]["post"]["requestBody"]["content"]) == [
        "multipart/form-data"
    ]
    assert list(schema["paths"]["/report"]["post"]["responses"]["200"]["content"]) == [
        "application/octet-stream"
    ]


# --- file input -----------------------------------------------------------------------------


async def test_file_input_from_a_multipart_form(tmp_path: pathlib.Path) -> None:
    async with running_client(io_service(tmp_path)) as client:
        response = await client.post(
            "/describe",
            files={"document": ("notes.txt", b"abc", "text/plain")},
            data={"times": "2"},
        )
    assert response.status_code == 200
    assert response.json() == {"name": "notes.txt", "text": "abcabc"}


async def test_several_files_for_a_list_parameter(tmp_path: pathlib.Path) -> None:
    async with running_client(io_service(tmp_path)) as client:
        one = await client.post("/sizes", files=[("files", ("a", b"1", "text/plain"))])
        two = await client.post(
            "/sizes",
            files=[("files", ("a", b"1", "text/plain")), ("files", ("b", b"22", "text/plain"))],
            data={"label": "L"},
        )
    assert one.json() == ["", 1]
    assert two.json() == ["L", 1, 2]


async def test_file_of_the_wrong_content_type_is_a_400(tmp_path: pathlib.Path) -> None:
    async with running_client(io_service(tmp_path)) as client:
        response = await client.post(
            "/describe", files={"document": ("a.png", b"\x89PNG", "image/png")}
        )
    assert response.status_code == 400
    body = response.json()
    assert body["error"].startswith("1 validation error for ")
    assert body["detail"][0]["type"] == "file_content_type"


async def test_a_path_in_json_is_never_read_from_the_server(tmp_path: pathlib.Path) -> None:
    async with running_client(io_service(tmp_path)) as client:
        response = await client.post("/describe", json={"document": "/etc/hostname"})
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["detail"][0]["msg"]


async def test_root_file_input_takes_the_raw_body(tmp_path: pathlib.Path) -> None:
    async with running_client(io_service(tmp_path)) as client:
        ok = await client.post(
            "/image_size", content=b"12345", headers={"content-type": "image/png"}
        )
        wrong = await client.post(
            "/image_size", content=b"x", headers={"content-type": "text/plain"}
        )
    assert ok.json() == 5
    assert wrong.status_code == 400


async def test_uploaded_files_are_removed_after_the_response(tmp_path: pathlib.Path) -> None:
    seen: list[pathlib.Path] = []

    @tiffin.service
    class Keeps:
        @tiffin.api
        def keep(self, upload: pathlib.Path) -> bool:
            seen.append(upload)
            return upload.exists()

    async with running_client(Keeps) as client:
        response = await client.post("/keep", files={"upload": ("u.bin", b"x", "application/x")})
    assert response.json() is True
    assert not seen[0].exists()


# --- file output ----------------------------------------------------------------------------


async def test_a_returned_path_is_sent_as_the_file(tmp_path: pathlib.Path) -> None:
    async with running_client(io_service(tmp_path)) as client:
        report = await client.post("/report")
        picture = await client.post("/picture")
        page = await client.post("/page")
    assert report.content == b"a,b\n1,2\n"
    assert report.headers["content-type"].startswith("text/csv")
    assert report.headers["content-disposition"] == 'attachment; filename="report.csv"'
    assert picture.headers["content-type"] == "image/png"
    assert picture.headers["content-disposition"].startswith("inline")
    assert page.headers["content-type"].startswith("text/html")


# --- validation errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "count"),
    [(b'{"a": "x"}', 2), (b"{}", 2), (b'{"a": 1}', 1), (b"not json", 1)],
)
async def test_validation_errors_start_as_bentomls(body: bytes, count: int) -> None:
    """BentoML: f"{exc.error_count()} validation error for {exc.title}" (singular, always)."""

    @tiffin.service
    class Validated:
        @tiffin.api
        def add(self, a: int, b: int) -> int:
            return a + b

    async with running_client(Validated) as client:
        response = await client.post("/add", content=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith(f"{count} validation error for ")
    assert error.partition(": ")[0].endswith("_Validated_add_Input")
    assert "validation error for" in response.text  # what clients of BentoML services match
    assert isinstance(response.json()["detail"], list)


async def test_a_middleware_matching_bentomls_text_turns_the_400_into_a_422() -> None:
    """The scenario of the issue: a service's middleware rewrites BentoML's validation 400."""
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    class ValidationTo422:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            messages: list[Message] = []

            async def hold(message: Message) -> None:
                messages.append(message)

            await self.app(scope, receive, hold)
            start, *bodies = messages
            body = b"".join(message.get("body", b"") for message in bodies)
            if start["status"] == 400 and b"validation error for" in body:
                start = {**start, "status": 422}
            await send(start)
            for message in bodies:
                await send(message)

    @tiffin.service
    class Rewritten:
        @tiffin.api
        def add(self, a: int, b: int) -> int:
            return a + b

    Rewritten.add_asgi_middleware(ValidationTo422)
    async with running_client(Rewritten) as client:
        invalid = await client.post("/add", json={"a": 1})
        valid = await client.post("/add", json={"a": 1, "b": 2})
    assert invalid.status_code == 422
    assert valid.json() == 3
