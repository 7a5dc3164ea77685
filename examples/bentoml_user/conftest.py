"""One ``client`` fixture, two ways to reach the service: every test using it runs twice.

- ``inprocess``: tiffin runs BentoML's own app (``Translator.to_asgi()``) in this
  process, lifespan included, and talks to it without a socket. Fast.
- ``bentoml_serve``: a real ``bentoml serve service:Translator`` on a free loopback
  port, started once for the session. The real thing.
"""

import httpx
import pytest

# bentoml 1.4.40 emits these deprecation warnings itself; the repository's pytest
# configuration turns warnings into errors, so they are ignored by their exact text:
BENTOML_WARNINGS = [
    # `import bentoml` builds pathspec "gitwildmatch" patterns, which pathspec deprecates
    # (bentoml/_internal/bento/build_config.py, bentoml/_internal/cloud/deployment.py).
    r"ignore:GitWildMatchPattern \('gitwildmatch'\) is deprecated:DeprecationWarning",
    # @bentoml.api builds its input model through BaseModel.__get_pydantic_core_schema__,
    # deprecated since pydantic 2.11 (_bentoml_sdk/io_models.py).
    "ignore:The `__get_pydantic_core_schema__` method of the `BaseModel` class is deprecated"
    ":pydantic.warnings.PydanticDeprecatedSince211",
    # Every @bentoml.api request reads `model_fields` on an instance, deprecated since
    # pydantic 2.11 (_bentoml_impl/server/app.py, api_endpoint).
    "ignore:Accessing the 'model_fields' attribute on the instance is deprecated"
    ":pydantic.warnings.PydanticDeprecatedSince211",
]


def pytest_configure(config):
    for line in BENTOML_WARNINGS:
        config.addinivalue_line("filterwarnings", line)


@pytest.fixture(params=["inprocess", "bentoml_serve"])
async def client(request, tiffin_client_factory, tiffin_bentoml_serve):
    from service import Translator  # here, not at the top: after the filters above apply

    if request.param == "inprocess":
        async with tiffin_client_factory(Translator) as client:
            yield client
    else:
        async with httpx.AsyncClient(base_url=tiffin_bentoml_serve(Translator)) as client:
            yield client
