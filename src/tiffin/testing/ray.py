"""Ray for tests (needs ``tiffin[ray]``): the ``tiffin_ray`` fixture's cluster.

The fixture (session scope, registered by the plugin) is one started
``tiffin.ray.cluster.LocalRay`` with Serve's proxy on 127.0.0.1; deploy a service
for a module of tests with it::

    @pytest.fixture(scope="module")
    def url(tiffin_ray):
        with tiffin_ray.deploy("service.py:MyService", replicas=2) as url:
            yield url
"""

from __future__ import annotations

from collections.abc import Iterator

from tiffin.ray.cluster import LocalRay

__all__ = ["RAY_WARNINGS", "LocalRay", "session_cluster"]

# Ray's own deprecation warnings (its pydantic models, its imports): not the tests' concern
# where pytest turns warnings into errors. Added by tests_ray/conftest.py; users may too.
RAY_WARNINGS = ("ignore::DeprecationWarning:ray.*",)


def session_cluster() -> Iterator[LocalRay]:
    """The ``tiffin_ray`` fixture's cluster: started once, stopped when the session ends."""
    import importlib.util

    import pytest

    if importlib.util.find_spec("ray") is None:
        pytest.fail('tiffin_ray needs Ray Serve, which is not installed: pip install "tiffin[ray]"')
    with LocalRay() as cluster:
        yield cluster
