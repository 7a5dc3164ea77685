"""The deprecation warnings bentoml 1.4.40 emits itself, as pytest ``filterwarnings`` lines.

For test suites that turn warnings into errors and run BentoML services.
"""

from __future__ import annotations

BENTOML_WARNINGS = (
    # `import bentoml` builds pathspec "gitwildmatch" patterns, which pathspec deprecates.
    r"ignore:GitWildMatchPattern \('gitwildmatch'\) is deprecated:DeprecationWarning",
    # @bentoml.api builds its input model through a method pydantic 2.11 deprecates.
    "ignore:The `__get_pydantic_core_schema__` method of the `BaseModel` class is deprecated"
    ":pydantic.warnings.PydanticDeprecatedSince211",
    # Every @bentoml.api request reads `model_fields` on an instance (pydantic 2.11).
    "ignore:Accessing the 'model_fields' attribute on the instance is deprecated"
    ":pydantic.warnings.PydanticDeprecatedSince211",
)
