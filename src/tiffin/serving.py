"""``tiffin serve``: find the service a TARGET names and serve it with uvicorn."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from tiffin.exceptions import ImportServiceError
from tiffin.service import Service


def load_service(target: str, *, working_dir: str | None = None) -> Service[Any]:
    """``module:Service``, ``path/to/file.py:Service``, or a module holding exactly one service."""
    module_ref, _, attribute = target.partition(":")
    if not module_ref:
        raise ImportServiceError(
            f"{target!r} names no module; use module:Service or file.py:Service"
        )
    directory = working_dir or os.getcwd()
    if directory not in sys.path:
        sys.path.insert(0, directory)
    module = _import(module_ref, directory)
    if attribute:
        found = getattr(module, attribute, None)
        if not isinstance(found, Service):
            services = _services_in(module)
            hint = f" (services there: {', '.join(services)})" if services else ""
            what = "is not a service" if found is not None else "does not exist"
            raise ImportServiceError(f"{module_ref}:{attribute} {what}{hint}")
        return found
    services = _services_in(module)
    if len(services) != 1:
        listing = ", ".join(services) or "none"
        raise ImportServiceError(
            f"module {module_ref!r} holds {len(services)} services ({listing}); "
            f"name one as {module_ref}:NAME"
        )
    return services[next(iter(services))]


def _import(module_ref: str, directory: str) -> Any:
    try:
        if module_ref.endswith(".py"):
            path = Path(directory, module_ref).resolve()
            if not path.is_file():
                raise ImportServiceError(f"no such file: {path}")
            sys.path.insert(0, str(path.parent))
            spec = importlib.util.spec_from_file_location(path.stem, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = module
            spec.loader.exec_module(module)
            return module
        return importlib.import_module(module_ref)
    except ImportServiceError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name == module_ref.partition(".")[0] or exc.name == module_ref:
            raise ImportServiceError(
                f"cannot import {module_ref!r}: no such module (run from the directory holding it, "
                "or pass --working-dir)"
            ) from exc
        raise ImportServiceError(f"importing {module_ref!r} failed: {exc}") from exc
    except Exception as exc:
        raise ImportServiceError(
            f"importing {module_ref!r} failed: {type(exc).__name__}: {exc}"
        ) from exc


def _services_in(module: Any) -> dict[str, Service[Any]]:
    return {name: value for name, value in vars(module).items() if isinstance(value, Service)}


def serve(
    service: Service[Any],
    *,
    host: str = "127.0.0.1",
    port: int = 3000,
    timeout: float | None = None,
    log_level: str = "info",
) -> None:
    import uvicorn

    traffic = {"timeout": timeout} if timeout is not None else None
    app = service.to_asgi(traffic=traffic)
    config = uvicorn.Config(app, host=host, port=port, lifespan="on", log_level=log_level)
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        raise SystemExit(3)  # startup failed; the error is already logged
