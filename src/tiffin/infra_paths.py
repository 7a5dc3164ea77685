"""The paths of the infrastructure routes, below a service's path_prefix: spelled here only.

Kept free of imports so ``import tiffin`` (which checks API routes against
them) stays light; ``infra.py`` serves them.
"""

from __future__ import annotations

LIVEZ, HEALTHZ, READYZ, METRICS = "/livez", "/healthz", "/readyz", "/metrics"
PROBES = (LIVEZ, HEALTHZ, READYZ, METRICS)
DOCS_JSON, DOCS = "/docs.json", "/docs"
INFRA_ROUTES = (*PROBES, DOCS_JSON, DOCS)
