"""Recognise a BentoML service without importing bentoml."""

from __future__ import annotations

import importlib
import sys
from typing import Any

_SERVICE_MODULE = "_bentoml_sdk.service.factory"


def is_bentoml_service(obj: Any) -> bool:
    """Whether ``obj`` is a ``@bentoml.service`` (never imports bentoml).

    A BentoML service object can only exist once BentoML's service module is imported.
    """
    module = sys.modules.get(_SERVICE_MODULE)
    return module is not None and isinstance(obj, module.Service)


def bentoml_module(name: str) -> Any:
    """A module of BentoML's (imported by name: tiffin is type-checked without bentoml)."""
    return importlib.import_module(name)
