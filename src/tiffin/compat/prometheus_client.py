"""prometheus_client's private names, as the BentoML harness needs them.

Checked against prometheus_client 0.20.0 (the floor in pyproject.toml) and 0.26.0
(the latest installed). BentoML 1.4 reads its metrics from a multiprocess directory
even in one process; prometheus_client picks how values are stored once, when
``prometheus_client.values`` is imported (``values.ValueClass``), and keeps the
registered collectors in ``CollectorRegistry._collector_to_names``. Neither has a
public way to be changed or listed.
"""

from __future__ import annotations

from typing import Any


def registered_collectors(registry: Any) -> list[Any]:
    """The collectors registered in ``registry`` now."""
    return list(getattr(registry, "_collector_to_names", {}))


def install_value_class(value_class: Any) -> Any:
    """Store metric values made from now on with ``value_class``; returns the one it replaced."""
    from prometheus_client import values

    old = values.ValueClass
    values.ValueClass = value_class
    return old


def current_value_class() -> Any:
    from prometheus_client import values

    return values.ValueClass


def multiprocess_value_class() -> Any:
    """A fresh multiprocess value class (its files belong to ``PROMETHEUS_MULTIPROC_DIR``)."""
    from prometheus_client import values

    return values.MultiProcessValue()  # type: ignore[no-untyped-call]
