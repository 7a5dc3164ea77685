"""LIF: startup and shutdown of the instance, the hooks and every mounted app, in order."""

from __future__ import annotations

from tiffin.conformance import expect
from tiffin.conformance.probes import STATE_VALUE
from tiffin.conformance.registry import CheckFailed, check
from tiffin.conformance.targets import CheckContext, Served


def steps(served: Served) -> list[str]:
    """The lifespan steps recorded, without tokens and request-time events."""
    assert served.events is not None and served.spec is not None
    label = served.spec.framework
    kept = ("__init__", "on_startup", "on_shutdown", f"{label} startup", f"{label} shutdown")
    return [
        line.split(" current=")[0].split(" token=")[0]
        for line in served.events.read()
        if line.startswith(kept)
    ]


@check(
    "LIF-001",
    "The mounted app's lifespan startup runs before the service answers.",
    needs={"reference"},
)
async def mounted_startup_runs(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        assert served.spec is not None
        before = steps(served)
        readyz = await served.client.get("/readyz")
    expect.status(readyz, 200)
    expect.that(
        f"{served.spec.framework} startup" in before,
        f"the mounted {served.spec.framework} app's startup had not run: {before}",
    )


@check(
    "LIF-002",
    "Startup order: __init__, on_startup hooks, then the mounted apps' lifespans.",
    needs={"reference"},
)
async def startup_order(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        assert served.spec is not None
        expect.equal(
            steps(served),
            ["__init__", "on_startup", f"{served.spec.framework} startup"],
            "the startup steps",
        )


@check(
    "LIF-003",
    "Shutdown runs in reverse: the mounted apps, then on_shutdown hooks.",
    needs={"reference"},
)
async def shutdown_order(ctx: CheckContext) -> None:
    async with ctx.serve(extra={"fresh": True}) as served:  # it must stop to shut down
        pass
    assert served.spec is not None
    label = served.spec.framework
    expect.equal(
        steps(served),
        ["__init__", "on_startup", f"{label} startup", f"{label} shutdown", "on_shutdown"],
        "the lifespan steps after the service stopped",
    )


@check(
    "LIF-004",
    "State a mounted app's lifespan yields reaches that app's requests.",
    needs={"reference", "lifespan_state"},
)
async def lifespan_state_reaches_requests(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        response = await served.client.get("/v1/state")
    expect.json_equal(response, 200, {"state": STATE_VALUE})


@check(
    "LIF-005",
    "The same app mounted twice starts once and serves under both prefixes.",
    needs={"reference"},
)
async def app_mounted_twice_starts_once(ctx: CheckContext) -> None:
    async with ctx.serve(mount_twice=True) as served:
        first = await served.client.get("/v1/scope")
        second = await served.client.get("/v2/scope")
        assert served.spec is not None
        startups = steps(served).count(f"{served.spec.framework} startup")
    expect.json_equal(first, 200, {"path": "/v1/scope", "root_path": "/v1"})
    expect.json_equal(second, 200, {"path": "/v2/scope", "root_path": "/v2"})
    expect.equal(startups, 1, "lifespan startups of the app mounted at /v1 and /v2")


async def failed_start(ctx: CheckContext) -> tuple[str, list[str]]:
    """Start a service whose mounted app fails its startup: the error, and the steps recorded."""
    try:
        async with ctx.serve(fail_startup=True):
            pass
    except Exception as exc:  # what a failed startup raises is the implementation's choice
        events = getattr(ctx, "last_events", None)
        recorded = events.read() if events is not None else []
        return "\n".join([str(exc), *getattr(exc, "__notes__", ())]), recorded
    raise CheckFailed("the service started although its mounted app's startup raised")


@check(
    "LIF-006",
    "A failing mounted startup fails the service, naming the mount and the cause.",
    needs={"reference"},
)
async def failed_startup_is_named(ctx: CheckContext) -> None:
    message, _ = await failed_start(ctx)
    expect.that("/v1" in message, f"the startup error does not name the mount /v1: {message!r}")
    expect.that(
        "startup failed on purpose" in message,
        f"the startup error does not carry the cause: {message!r}",
    )


@check(
    "LIF-009",
    "After a failed startup, the steps already started are shut down.",
    needs={"reference"},
)
async def failed_startup_rolls_back(ctx: CheckContext) -> None:
    _, recorded = await failed_start(ctx)
    hooks = [line.split(" current=")[0] for line in recorded if line.startswith("on_")]
    expect.equal(
        hooks, ["on_startup", "on_shutdown"], "the hooks that ran around a failed mounted startup"
    )


@check(
    "LIF-007",
    "An app that does not speak the lifespan protocol is skipped quietly.",
    needs={"reference", "without_lifespan"},
)
async def app_without_lifespan_is_skipped(ctx: CheckContext) -> None:
    async with ctx.serve(lifespan=False) as served:
        response = await served.client.get("/v1/scope")
    expect.json_equal(response, 200, {"path": "/v1/scope", "root_path": "/v1"})


@check("LIF-010", "on_startup hooks run in the order they are defined.", needs={"reference"})
async def hooks_in_definition_order(ctx: CheckContext) -> None:
    async with ctx.serve() as served:
        assert served.events is not None
        recorded = [
            line.split(" current=")[0]
            for line in served.events.read()
            if line.startswith(("on_startup", "startup hook"))
        ]
    # `started` is defined before `also_started`, which comes first by name.
    expect.equal(recorded, ["on_startup", "startup hook also_started"], "the hooks run")


# LIF-008 ("/readyz answers 200 once every startup step has finished") is retired: from
# outside, a server answers no request before its startup ends, so it could observe only
# what LIF-001 and INF-003 already do. Its ID is not reused.
