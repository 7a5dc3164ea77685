"""``tiffin.images.Image``: BentoML's image spec (``bentoml.images.Image``), recorded only.

Real services pass ``image=bentoml.images.Image(python_version="3.11")
.requirements_file("requirements.txt")`` to ``@service``. tiffin builds no
images: the spec is kept, readable from ``Service.image`` and shown by the
banner of ``tiffin serve``, and has no effect. The builder methods are
BentoML 1.4.40's, each returning the image so calls chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Image"]


@dataclass
class Image:
    base_image: str = ""
    distro: str = "debian"
    python_version: str = ""
    commands: list[str] = field(default_factory=list)
    lock_python_packages: bool = True
    pack_git_packages: bool = True
    python_requirements: str = ""
    post_commands: list[str] = field(default_factory=list)
    build_include_paths: list[str] = field(default_factory=list)
    steps: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def _record(self, step: str, *args: Any) -> Image:
        self.steps.append((step, args))
        return self

    def system_packages(self, *packages: str) -> Image:
        return self._record("system_packages", *packages)

    def requirements_file(self, file_path: str) -> Image:
        return self._record("requirements_file", file_path)

    def pyproject_toml(self, file_path: str = "pyproject.toml") -> Image:
        return self._record("pyproject_toml", file_path)

    def uv_lock(self) -> Image:
        return self._record("uv_lock")

    def python_packages(self, *packages: str) -> Image:
        return self._record("python_packages", *packages)

    def run(self, command: str) -> Image:
        return self._record("run", command)

    def run_script(self, script: str) -> Image:
        return self._record("run_script", script)

    def build_include(self, *file_paths: str) -> Image:
        return self._record("build_include", *file_paths)

    def __str__(self) -> str:
        parts = [f"python {self.python_version}"] if self.python_version else []
        if self.base_image:
            parts.append(f"base {self.base_image}")
        parts.extend(f"{step}({', '.join(map(str, args))})" for step, args in self.steps)
        return "Image(" + "; ".join(parts) + ")"
