"""Ray's internals that ``tiffin.testing.ray`` needs. Checked against Ray 2.60.0.

Ray reads its authentication mode and token once, when ``ray`` is imported (a
C++ config and a token cache). A process that imported Ray before it knew the
token of the cluster it joins must have both read again.
"""

from __future__ import annotations

import sys


def reread_authentication() -> None:
    """Make an already imported Ray read ``RAY_AUTH_MODE`` and ``RAY_AUTH_TOKEN`` again."""
    if "ray" not in sys.modules:
        return  # read on import
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()
