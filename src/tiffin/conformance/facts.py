"""What a service declares, as checks need it: prefix, mounts, APIs, hosts, capabilities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tiffin.conformance.spec import FRAMEWORK_CAPABILITIES, ServiceSpec

# A path no service serves: checks use it for "a miss outside every route".
MISSING_PATH = "/tiffin-conformance/no-such-route"


@dataclass(frozen=True)
class ServiceFacts:
    """What a service declares: checks derive their requests from it."""

    prefix: str
    mounts: tuple[str, ...]  # as served, prefix included
    apis: tuple[str, ...]  # as served, prefix included
    trusted_hosts: tuple[str, ...] | None
    capabilities: frozenset[str]

    @property
    def allowed_host(self) -> str | None:
        """A Host header the allow-list lets in (``*.x`` -> ``api.x``)."""
        if not self.trusted_hosts:
            return None
        host = next((h for h in self.trusted_hosts if "*" not in h), self.trusted_hosts[0])
        return host.replace("*", "api")

    def path(self, path: str) -> str:
        return self.prefix + path


def facts_of_service(
    prefix: str,
    mounts: tuple[str, ...],
    apis: tuple[str, ...],
    trusted_hosts: Any,
    root_claimed: bool,
) -> ServiceFacts:
    """Facts of a user's service, from what its implementation reports."""
    present = {
        "apis": bool(apis),
        "mounts": bool(mounts),
        "trusted_host": bool(trusted_hosts),
        "misses": not root_claimed,
    }
    return ServiceFacts(
        prefix=prefix,
        mounts=mounts,
        apis=apis,
        trusted_hosts=tuple(trusted_hosts) if trusted_hosts else None,
        capabilities=frozenset(name for name, there in present.items() if there),
    )


def facts_of_spec(spec: ServiceSpec) -> ServiceFacts:
    from tiffin.conformance.reference import API_ROUTES

    prefix = spec.path_prefix or ""
    mounts = [spec.mount_path] + (["/v2"] if spec.mount_twice else [])
    capabilities = set(FRAMEWORK_CAPABILITIES[spec.framework]) | {
        "reference",
        "apis",
        "mounts",
        "misses",
    }
    if spec.trusted_hosts:
        capabilities.add("trusted_host")
    return ServiceFacts(
        prefix=prefix,
        mounts=tuple(prefix + mount for mount in mounts),
        apis=tuple(prefix + route for route in API_ROUTES),
        trusted_hosts=spec.trusted_hosts,
        capabilities=frozenset(capabilities),
    )
