"""Last of the session: stopping the cluster leaves no Ray process behind."""

from __future__ import annotations

from pathlib import Path

from tiffin.testing.ray import LocalRay

RAY_PROGRAMS = ("raylet", "gcs_server", "ray::", "ray/dashboard", "ray/_private")


def ray_processes() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if any(program in command for program in RAY_PROGRAMS):
                found.append(f"{entry.name} {command[:120]}")
    return found


def test_stopping_the_cluster_leaves_no_ray_process(tiffin_ray: LocalRay) -> None:
    assert tiffin_ray.processes(), "the session's cluster should be running until now"
    tiffin_ray.stop()
    assert tiffin_ray.processes() == []
    assert ray_processes() == []
