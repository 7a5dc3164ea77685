"""What ``bentoml serve`` imports in a conformance run: the reference service, built by BentoML.

The spec arrives as JSON in ``TIFFIN_CONFORMANCE_SPEC`` (the run sets it for the server).
"""

import os

import bentoml

from tiffin.conformance.reference import build_reference_service
from tiffin.conformance.spec import SPEC_ENV, ServiceSpec

Reference = build_reference_service(ServiceSpec.from_json(os.environ[SPEC_ENV]), bentoml)
