"""``use_arguments()``: the values given by ``tiffin serve --arg key=value``, as BentoML's.

The service module reads them when it is imported, so they are set before:
``tiffin serve`` puts them in ``TIFFIN_ARGUMENTS`` (JSON) in its own
environment, which worker processes inherit. Tests set them with
``set_arguments()`` before importing the module.
"""

from __future__ import annotations

import json
import os
import sys
import types
from typing import TYPE_CHECKING, Any, TypeVar, overload

# pydantic's ValidationError is pydantic_core's; importing pydantic's would load its
# model machinery, which ``use_arguments()`` needs only once it is given a model.
from pydantic_core import ValidationError

from tiffin.exceptions import InvalidArgument

if TYPE_CHECKING:
    from pydantic import BaseModel

ARGUMENTS_ENV = "TIFFIN_ARGUMENTS"

_Model = TypeVar("_Model", bound="BaseModel")
_override: dict[str, Any] | None = None


def parse_argument(item: str) -> tuple[str, str]:
    """``key=value`` -> ``("key", "value")``; values stay strings, as BentoML's."""
    key, has_equal, value = item.partition("=")
    if not has_equal or not key:
        raise InvalidArgument(f"--arg {item!r}: write it as KEY=VALUE, such as --arg model=small")
    return key, value


def set_arguments(arguments: dict[str, Any] | None) -> None:
    """Set what ``use_arguments()`` answers in this process (None: back to the environment)."""
    global _override
    _override = None if arguments is None else dict(arguments)


def current_arguments() -> dict[str, Any]:
    if _override is not None:
        return dict(_override)
    text = os.environ.get(ARGUMENTS_ENV)
    if not text:
        return {}
    loaded = json.loads(text)
    return dict(loaded) if isinstance(loaded, dict) else {}


@overload
def use_arguments(model: type[_Model]) -> _Model: ...
@overload
def use_arguments(model: None = None) -> types.SimpleNamespace: ...
def use_arguments(model: type[_Model] | None = None) -> _Model | types.SimpleNamespace:
    """The service's arguments: validated by ``model`` (a pydantic model), else a namespace."""
    arguments = current_arguments()
    if model is None:
        return types.SimpleNamespace(**arguments)
    try:
        return model(**arguments)
    except ValidationError as exc:
        raise InvalidArgument(
            f"Argument error. Please provide correct arguments via --arg option: {exc}"
        ) from exc


def with_arguments(service: Any, arguments: dict[str, Any]) -> Any:
    """``service`` as its module defines it when imported with ``arguments`` (for a harness).

    ``use_arguments()`` runs when the module is imported, so the module is run
    again, as a fresh module object (``sys.modules`` is left as it is), with the
    arguments set; the service of the same name is taken from it.
    """
    import importlib.util

    from tiffin.exceptions import BentoMLConfigException

    module_name = service.inner.__module__
    attribute = next(
        (
            name
            for name, value in vars(sys.modules.get(module_name, object())).items()
            if value is service
        ),
        None,
    )
    spec = importlib.util.find_spec(module_name)
    if attribute is None or spec is None or spec.loader is None:
        raise BentoMLConfigException(
            f"service {service.name!r}: arguments= needs a service defined at the top level of "
            f"an importable module (it is run again with the arguments); {module_name!r} "
            f"holds no such name"
        )
    global _override
    previous, _override = _override, dict(arguments)
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        _override = previous
    return getattr(module, attribute)
