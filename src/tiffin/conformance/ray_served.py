"""What a Ray Serve replica imports in a conformance run: the reference service, built by tiffin.

The spec arrives as JSON in ``TIFFIN_CONFORMANCE_SPEC`` (the run puts it in each
replica's ``runtime_env``).
"""

import os

import tiffin
from tiffin.conformance.reference import build_reference_service
from tiffin.conformance.spec import SPEC_ENV, ServiceSpec

Reference = build_reference_service(ServiceSpec.from_json(os.environ[SPEC_ENV]), tiffin)
