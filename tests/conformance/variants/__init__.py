"""Broken variants of tiffin: each a small wrong implementation of one rule of the contract.

A variant builds the reference service as tiffin does, then breaks it in one way:
a changed spec (``spec``), a changed service (``service``), a user middleware added
outermost (``middleware``), a wrapper around the whole composed app, as a server or
an outer layer gone wrong would be (``wrap``), or a changed module the service is
written with (``module``). ``fails`` names the checks that must fail; every other check
of the same areas must still pass (tests/conformance/test_broken_variants.py).
"""

from __future__ import annotations

from tests.conformance.variants.api import API
from tests.conformance.variants.infra import INF
from tests.conformance.variants.routing import FIRST, MWO_PFX, THR
from tests.conformance.variants.sdk import SDK
from tests.conformance.variants.service import INJ, LIF_DEF
from tests.conformance.variants.tools import Broken
from tests.conformance.variants.traffic import CON, TMO

VARIANTS: list[Broken] = [*FIRST, *API, *CON, *INF, *INJ, *LIF_DEF, *MWO_PFX, *SDK, *THR, *TMO]
