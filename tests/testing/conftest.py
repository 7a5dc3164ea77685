"""Modules the pytester runs below share with this process.

pytester drops the modules first imported during an in-process run, so the next run
imports a second copy; a second copy of httpcore's network backends raises
exceptions that httpx (imported once) no longer maps. Imported here, there is one copy.
"""

from __future__ import annotations

import importlib
import importlib.util

import httpcore._backends.anyio
import httpcore._backends.sync  # noqa: F401

import tiffin.testing.live_transport
import tiffin.testing.sync  # noqa: F401

# The sample services mount FastAPI apps; where FastAPI is not installed (tox's Quart-
# or Starlette-only environments) the tests that use them do not apply.
if importlib.util.find_spec("fastapi") is not None:
    importlib.import_module("tests.testing.sample_services")
