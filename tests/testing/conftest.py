"""Modules the pytester runs below share with this process.

pytester drops the modules first imported during an in-process run, so the next run
imports a second copy; a second copy of httpcore's network backends raises
exceptions that httpx (imported once) no longer maps. Imported here, there is one copy.
"""

from __future__ import annotations

import httpcore._backends.anyio
import httpcore._backends.sync  # noqa: F401

import tests.testing.sample_services  # noqa: F401
import tiffin.testing.live_transport
import tiffin.testing.sync  # noqa: F401
