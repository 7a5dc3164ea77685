"""prometheus_client's private API that tiffin uses (only to run BentoML's app in-process).

Checked against prometheus_client 0.20.0 (the floor in pyproject.toml) and 0.26.0
(the latest installed here). tiffin's own metrics (``tiffin.metrics``) use only the
public API: a custom collector, the metric families, the multiprocess collector.

- ``CollectorRegistry._collector_to_names``: the registered collectors; there is
  no public list, and BentoML registers its own in the global registry.
- ``values.ValueClass``: the class every metric made from now on stores its values
  with. prometheus_client chooses it once, as it is imported, from
  ``PROMETHEUS_MULTIPROC_DIR``; BentoML's app needs the multiprocess one in a
  process that imported prometheus_client before the variable was set.
- Closing that value class's files: ``MultiProcessValue(...).close_all_files()``
  (0.26); before it, the ``_file`` (an ``MmapedDict``; ``close()`` twice is
  harmless) of each value made, which a subclass of the value class records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, values


def registered_collectors(registry: CollectorRegistry) -> list[Any]:
    """The collectors registered in ``registry``, in registration order."""
    return list(getattr(registry, "_collector_to_names", {}))


def store_values_in_files() -> Callable[[], None]:
    """Metrics made from now on write their values to ``PROMETHEUS_MULTIPROC_DIR``.

    As if the variable had been set when prometheus_client was imported, with a
    fresh value class (its open files belong to the directory set now). Returns
    the undo: it closes those files and restores the previous value class,
    unless another one was set since.
    """
    previous = values.ValueClass
    base = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    made: list[Any] = []

    class Value(base):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    values.ValueClass = Value

    def undo() -> None:
        close_all_files = getattr(Value, "close_all_files", None)
        if close_all_files is not None:
            close_all_files()
        else:
            for value in made:
                value._file.close()
        made.clear()
        if values.ValueClass is Value:
            values.ValueClass = previous

    return undo
