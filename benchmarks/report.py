# ruff: noqa: RUF001  (the report is Markdown for people: the multiplication sign is meant)
"""From ``results.json`` to the targets, the plots and RESULTS.md.

Every ratio is taken round by round (the contenders of one round ran minutes
apart at most, interleaved) and the median of those ratios is reported.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from over_socket import ROUTE_LABELS, ROUTES

CONTENDER_ORDER = ("bare", "fastapi", "tiffin", "bentoml")
NAMES = {
    "bare": "bare ASGI",
    "fastapi": "FastAPI alone",
    "tiffin": "tiffin",
    "bentoml": "BentoML 1.4",
}
INPROCESS_ROUTES = ("GET /v1/async", "GET /v1/sync", "POST /echo_async", "POST /echo_sync")

# Why a target can be missed, shown under the targets table when it is.
MISS_NOTES = {
    "1": "The socket numbers move with the machine's load (two cores shared with other "
    "jobs, wrk on one of them): see the spread between rounds in results.json. The "
    "in-process layer table shows what tiffin adds per request.",
    "2": "The `@api` path itself is cheaper than FastAPI's (see the in-process table); a miss "
    "here comes from the machine's noise, visible as the spread between rounds.",
    "3a": "tiffin's layers (error guard, metrics, timeout, the user middleware, service context, "
    "router) cost a few µs each on top of the mounted FastAPI app; see the layer table.",
    "3b": "Most of a test's cost is httpx's (a client, its transport, one request through "
    "`ASGITransport`), which the hand-written glue pays as well; see the harness table.",
    "4a": "A launch is an interpreter start, the imports (tiffin with pydantic and "
    "Starlette, uvicorn) and the service module: see the import times. On this shared "
    "machine the median is stretched by the other jobs; the best launch (in brackets) is "
    "the least disturbed one.",
    "4b": "`import tiffin` loads what marking a class needs (pydantic's core for the `@api` "
    "input models, tiffin's decorators); the first `@tiffin.service` builds the "
    "configuration models, and `to_asgi()` or `tiffin serve` imports Starlette, asyncio and "
    "the request handling (tests/test_import_cost.py pins which). The service-module row "
    "adds the definition. The best run (in brackets) is the least disturbed one.",
    "5": "",
    "6": "",
}


def median(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else float("nan")


def ratios(numerators: list[float], denominators: list[float]) -> list[float]:
    return [n / d for n, d in zip(numerators, denominators, strict=False) if d]


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _socket_series(results: dict[str, Any], key: str, route: str, field: str) -> list[float]:
    runs = results["sections"].get("socket", {}).get("runs", {}).get(key, {}).get(route, [])
    if field == "rps":
        return [run["rps"] for run in runs]
    return [run["percentiles_ms"][field] for run in runs]


Measured = tuple[str, bool | None]  # what was measured, as shown; goal met (None: not run)


def _socket_ratio(results: dict[str, Any], route: str, field: str) -> float:
    """Median of the round-by-round ratios of tiffin to the FastAPI app alone."""
    return median(
        ratios(
            _socket_series(results, "tiffin", route, field),
            _socket_series(results, "fastapi", route, field),
        )
    )


def _mounted_get(results: dict[str, Any]) -> Measured:
    rps, p99 = _socket_ratio(results, "get_async", "rps"), _socket_ratio(results, "get_async", "99")
    return f"req/s {fmt(rps)}×, p99 {fmt(p99)}×", rps >= 0.8 and p99 <= 2.0


def _api_post(results: dict[str, Any]) -> Measured:
    api = _socket_ratio(results, "api_async", "rps")
    return f"req/s {fmt(api)}×", api >= 0.7


def _inprocess(results: dict[str, Any]) -> Measured:
    runs = results["sections"]["inprocess"]["tiffin"]

    def ratio(client: str) -> float:
        tiffin, fastapi = runs[client]["tiffin"], runs[client]["fastapi"]
        return median(ratios(tiffin["GET /v1/async"], fastapi["GET /v1/async"]))

    httpx_ratio = ratio("httpx")
    return f"{fmt(httpx_ratio)}× (raw ASGI driver, no httpx: {fmt(ratio('raw'))}×)", (
        httpx_ratio <= 1.2
    )


def _harness(results: dict[str, Any]) -> Measured:
    cost = median(results["sections"]["harness"]["ms_per_test"]["harness_trivial"])
    return f"{fmt(cost, 3)} ms", cost <= 1.0


def _live_harness(results: dict[str, Any]) -> Measured:
    costs = results["sections"]["harness"]["ms_per_test"]
    if "live_trivial" not in costs:  # a run from before the live case was measured
        return "", None
    ratio = median(costs["live_trivial"]) / median(costs["harness_trivial"])
    return f"{fmt(ratio)}×", ratio <= 5.0


def _median_and_best(seconds: list[float], limit: float) -> Measured:
    middle = median(seconds)
    return f"{fmt(middle, 3)} s (best {fmt(min(seconds), 3)} s)", middle <= limit


def _launch(results: dict[str, Any]) -> Measured:
    return _median_and_best(results["sections"]["launch"]["seconds"]["tiffin_trivial"], 0.6)


def _import(results: dict[str, Any]) -> Measured:
    return _median_and_best(results["sections"]["imports"]["seconds"]["tiffin"], 0.15)


def _memory(results: dict[str, Any]) -> Measured:
    memory = results["sections"]["socket"]["memory"]["tiffin"]
    growth = memory["after_mb"] / memory["warm_mb"] - 1
    shown = f"{memory['warm_mb']:.1f} MB → {memory['after_mb']:.1f} MB ({growth:+.1%})"
    return shown, abs(growth) <= 0.10


def _mounts(results: dict[str, Any]) -> Measured:
    one, hundred = mount_overheads(results, 1), mount_overheads(results, 100)
    ratio = hundred / one if one else float("nan")
    return f"{fmt(ratio)}× ({fmt(one, 1)} µs → {fmt(hundred, 1)} µs)", ratio <= 1.2


# id, the section that measures it, what it is, the goal, how it is measured.
TARGETS: tuple[tuple[str, str, str, str, Callable[[dict[str, Any]], Measured]], ...] = (
    (
        "1",
        "socket",
        "Mounted FastAPI GET over the socket, tiffin vs the FastAPI app alone on uvicorn",
        "req/s ≥ 0.8×, p99 ≤ 2×",
        _mounted_get,
    ),
    (
        "2",
        "socket",
        "Async `@api` POST over the socket vs a FastAPI POST route doing the same work",
        "req/s ≥ 0.7×",
        _api_post,
    ),
    (
        "3a",
        "inprocess",
        "In-process, one mounted GET through httpx's ASGITransport: full tiffin stack vs "
        "the FastAPI app alone",
        "time ≤ 1.2×",
        _inprocess,
    ),
    (
        "3b",
        "harness",
        "Harness per-test cost (compose, lifespan, one request, shutdown), trivial service",
        "≤ 1 ms",
        _harness,
    ),
    (
        "3c",
        "harness",
        "Harness per-test cost over the live transport (a uvicorn server per test) vs in-process",
        "≤ 5×",
        _live_harness,
    ),
    ("4a", "launch", "`tiffin serve` launch to `/readyz` 200, trivial service", "≤ 0.6 s", _launch),
    ("4b", "imports", "`import tiffin` in a fresh interpreter", "≤ 0.15 s", _import),
    (
        "5",
        "socket",
        "tiffin worker RSS after the sustained run vs after warm-up",
        "within 10%",
        _memory,
    ),
    ("6", "growth", "Per-request overhead at 100 mounts vs at 1 mount", "≤ 1.2×", _mounts),
)


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with what this run measured, and its verdict ("not run" without its section)."""
    found = []
    for id_, section, name, goal, measure in TARGETS:
        measured, met = measure(results) if section in results["sections"] else ("", None)
        verdict = "not run" if met is None else ("met" if met else "missed")
        found.append(
            {"id": id_, "name": name, "goal": goal, "measured": measured, "verdict": verdict}
        )
    return found


def overheads(results: dict[str, Any], variant: str) -> float:
    """Median over rounds of (variant - the mounted app alone), in µs."""
    series = results["sections"]["growth"]["us_per_request"]
    alone = series["alone"]
    return median([v - a for v, a in zip(series[variant], alone, strict=False)])


def mount_overheads(results: dict[str, Any], n: int) -> float:
    return overheads(results, f"mounts={n}")


# --- plots ------------------------------------------------------------------------------------


def plots(results: dict[str, Any], directory: Path) -> dict[str, str]:
    """Draw what reads better as a picture; file names relative to RESULTS.md."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    directory.mkdir(parents=True, exist_ok=True)
    drawn: dict[str, str] = {}
    sections = results["sections"]
    if "socket" in sections:
        keys = [k for k in CONTENDER_ORDER if k in sections["socket"]["runs"]]
        routes = [route for route, *_ in ROUTES]
        fig, ax = plt.subplots(figsize=(9, 4.5))
        width = 0.8 / len(keys)
        for i, key in enumerate(keys):
            values = [median(_socket_series(results, key, r, "rps")) for r in routes]
            lows = [min(_socket_series(results, key, r, "rps")) for r in routes]
            highs = [max(_socket_series(results, key, r, "rps")) for r in routes]
            xs = [j + (i - (len(keys) - 1) / 2) * width for j in range(len(routes))]
            ax.bar(
                xs,
                values,
                width,
                label=NAMES[key],
                yerr=[
                    [v - lo for v, lo in zip(values, lows, strict=True)],
                    [hi - v for v, hi in zip(values, highs, strict=True)],
                ],
                capsize=3,
            )
        ax.set_xticks(range(len(routes)), [ROUTE_LABELS[r] for r in routes], fontsize=8)
        ax.set_ylabel("requests/s (median; bars: min–max of rounds)")
        ax.set_title("Throughput over loopback, one worker")
        ax.legend()
        fig.tight_layout()
        fig.savefig(directory / "throughput.png", dpi=110)
        plt.close(fig)
        drawn["throughput"] = "plots/throughput.png"

        fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharey=True)
        for ax, route in zip(axes.flat, routes, strict=True):
            for key in keys:
                runs = sections["socket"]["runs"][key][route]
                if not runs:
                    continue
                points = sorted(runs[0]["percentiles_ms"], key=float)
                xs = [median([run["percentiles_ms"][p] for run in runs]) for p in points]
                ax.plot(xs, [float(p) for p in points], marker=".", label=NAMES[key])
            ax.set_xscale("log")
            ax.set_title(ROUTE_LABELS[route], fontsize=9)
            ax.set_xlabel("latency (ms, log)")
            ax.grid(True, which="both", alpha=0.3)
        axes[0][0].set_ylabel("percentile")
        axes[1][0].set_ylabel("percentile")
        axes[0][0].legend(fontsize=8)
        fig.suptitle("Latency distribution under load (median of rounds per percentile)")
        fig.tight_layout()
        fig.savefig(directory / "latency.png", dpi=110)
        plt.close(fig)
        drawn["latency"] = "plots/latency.png"

    if "growth" in sections:
        from growth import APIS, MIDDLEWARES, MOUNTS

        series = sections["growth"]["us_per_request"]
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
        axes[0].plot(
            MOUNTS, [overheads(results, f"mounts={n}") for n in MOUNTS], "o-", label="tiffin"
        )
        axes[0].plot(
            MOUNTS,
            [overheads(results, f"starlette_mounts={n}") for n in MOUNTS],
            "s--",
            label="Starlette Router of Mounts (reference)",
        )
        axes[0].set_xscale("log")
        axes[0].set_xlabel("mounted apps")
        axes[0].set_ylabel("µs per request over the app alone")
        axes[0].legend(fontsize=8)
        axes[1].plot(
            MIDDLEWARES, [overheads(results, f"middlewares={k}") for k in MIDDLEWARES], "o-"
        )
        axes[1].set_xlabel("user middlewares (pass-through)")
        axes[2].plot(APIS, [median(series[f"apis={n}"]) for n in APIS], "o-")
        axes[2].set_xscale("log")
        axes[2].set_xlabel("@api routes")
        axes[2].set_ylabel("µs per POST")
        for ax in axes:
            ax.set_ylim(0, ax.get_ylim()[1] * 1.15)
            ax.grid(True, alpha=0.3)
        fig.suptitle("Per-request cost as the service grows (in-process, raw ASGI driver)")
        fig.tight_layout()
        fig.savefig(directory / "growth.png", dpi=110)
        plt.close(fig)
        drawn["growth"] = "plots/growth.png"
    return drawn


# --- RESULTS.md -------------------------------------------------------------------------------


def markdown(results: dict[str, Any], drawn: dict[str, str]) -> str:
    sections = results["sections"]
    lines: list[str] = []
    add = lines.append
    machine = results["machine"]
    add("# Benchmarks: tiffin, a bare ASGI app, FastAPI alone and BentoML 1.4")
    add("")
    add(
        f"Generated by `{results['command']}` ({results['mode']} mode) on "
        f"{machine['date_utc']} in {results['elapsed_seconds']:.0f} s. BentoML: "
        f"{results['bentoml']}. Raw numbers: [results.json](results.json)."
    )
    add("")
    add("## Targets")
    add("")
    add(
        "Each is a ratio (or a time) measured in this run, contenders interleaved, "
        "repeated, medians taken."
    )
    add("")
    add("| # | what | goal | measured | verdict |")
    add("|---|---|---|---|---|")
    for target in results["targets"]:
        mark = {"met": "met", "missed": "**missed**", "not run": "not run"}[target["verdict"]]
        add(
            f"| {target['id']} | {target['name']} | {target['goal']} | "
            f"{target['measured'] or '—'} | {mark} |"
        )
    add("")
    add(
        "Target 3a is read through `httpx.ASGITransport`, the client the target names; the raw "
        "ASGI driver in brackets leaves httpx's own cost out, so tiffin's layers weigh more "
        'there (the layer table under "In-process" shows each one).'
    )
    add("")
    missed = [t for t in results["targets"] if t["verdict"] == "missed"]
    if missed:
        add("Missed targets:")
        add("")
        for target in missed:
            note = MISS_NOTES.get(target["id"]) or "No explanation recorded."
            add(f"- **{target['id']}**: {note}")
        add("")

    add("## Machine and versions")
    add("")
    add(
        f"- {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB, "
        f"{machine['os']}; shared with other jobs (load average "
        f"{', '.join(f'{x:.2f}' for x in machine['load_average_before'])} before, "
        f"{', '.join(f'{x:.2f}' for x in machine['load_average_after'])} after)."
    )
    versions = machine["versions"]
    add(
        "- tiffin's environment: "
        + ", ".join(f"{name} {version}" for name, version in versions.items())
        + "."
    )
    if machine.get("bentoml_versions"):
        add(
            "- BentoML's virtualenv (`benchmarks/.venv-bentoml`): "
            + ", ".join(f"{n} {v}" for n, v in machine["bentoml_versions"].items())
            + "."
        )
    add(f"- Load generator: {machine['load_tool']}.")
    settings = results["settings"]
    add(
        f"- Settings: {settings['socket_rounds']} rounds × {settings['socket_seconds']} s per "
        f"route and contender over the socket, {settings['connections']} connections; "
        f"in-process {settings['inprocess_rounds']} rounds × {settings['inprocess_requests']} "
        f"requests (BentoML's: {settings['bentoml_inprocess_rounds']} × "
        f"{settings['bentoml_inprocess_requests']}); growth {settings['growth_rounds']} rounds × "
        f"{settings['growth_requests']} requests; harness {settings['harness_rounds']} rounds × "
        f"{settings['harness_tests']} tests."
    )
    add("")

    if "socket" in sections:
        _socket_markdown(results, drawn, add)
    if "launch" in sections:
        _launch_markdown(results, add)
    if "inprocess" in sections:
        _inprocess_markdown(results, add)
    if "harness" in sections:
        _harness_markdown(results, add)
    if "growth" in sections:
        _growth_markdown(results, drawn, add)
    if "imports" in sections:
        _imports_markdown(results, add)
    _method_markdown(results, add)
    return "\n".join(lines) + "\n"


def _socket_markdown(results: dict[str, Any], drawn: dict[str, str], add: Any) -> None:
    socket = results["sections"]["socket"]
    keys = [k for k in CONTENDER_ORDER if k in socket["runs"]]
    add("## Over the socket")
    add("")
    add(
        "One worker per contender, loopback, load from a separate process. "
        "`×FastAPI` is the median of the round-by-round ratios to the FastAPI app alone."
    )
    add("")
    add("| route | contender | req/s | ×FastAPI | p50 ms | p99 ms | p99 ×FastAPI | errors |")
    add("|---|---|---:|---:|---:|---:|---:|---:|")
    for route, *_ in ROUTES:
        base_rps = _socket_series(results, "fastapi", route, "rps")
        base_p99 = _socket_series(results, "fastapi", route, "99")
        for key in keys:
            rps = _socket_series(results, key, route, "rps")
            p99 = _socket_series(results, key, route, "99")
            errors = sum(run["errors"] for run in socket["runs"][key][route])
            add(
                f"| {ROUTE_LABELS[route]} | {NAMES[key]} | {median(rps):.0f} | "
                f"{fmt(median(ratios(rps, base_rps)))} | "
                f"{fmt(median(_socket_series(results, key, route, '50')))} | "
                f"{fmt(median(p99))} | {fmt(median(ratios(p99, base_p99)))} | {errors} |"
            )
    add("")
    for name in ("throughput", "latency"):
        if name in drawn:
            add(f"![{name}]({drawn[name]})")
            add("")
    add("Worker memory (RSS of the process serving requests; BentoML's API worker):")
    add("")
    add("| contender | started | after warm-up | after the sustained run | change |")
    add("|---|---:|---:|---:|---:|")
    for key in keys:
        memory = socket["memory"][key]
        change = memory["after_mb"] / memory["warm_mb"] - 1
        add(
            f"| {NAMES[key]} | {memory['started_mb']:.1f} MB | {memory['warm_mb']:.1f} MB | "
            f"{memory['after_mb']:.1f} MB | {change:+.1%} |"
        )
    add("")
    add("Commands (run from `benchmarks/apps/`; `{port}` is a free port):")
    add("")
    for key in keys:
        add(f"- {NAMES[key]}: `{socket['commands'][key]}`")
    add("")


def _launch_markdown(results: dict[str, Any], add: Any) -> None:
    launch = results["sections"]["launch"]
    add("## Launch to `/readyz`")
    add("")
    add(
        "Seconds from starting the command to the first `200` from `/readyz` "
        "(polled every 5 ms), median (min–max) of the launches."
    )
    add("")
    add("| server | median s | min–max s |")
    add("|---|---:|---:|")
    for key, values in launch["seconds"].items():
        add(
            f"| {launch['labels'][key]} | {median(values):.3f} | "
            f"{min(values):.3f}–{max(values):.3f} |"
        )
    add("")


def _inprocess_markdown(results: dict[str, Any], add: Any) -> None:
    inproc = results["sections"]["inprocess"]
    add("## In-process, one request")
    add("")
    add(
        "µs per request, median of rounds. `httpx` is `httpx.AsyncClient` over "
        "`httpx.ASGITransport` (what tests use); `raw` is a minimal ASGI driver that "
        "leaves only the app's own cost. The tiffin app is the full stack: error guard, "
        "metrics, timeout, the user middleware, service context, router, the mounted "
        "FastAPI app."
    )
    add("")
    for client in ("httpx", "raw"):
        runs = inproc["tiffin"][client]
        add(f"**{client}**")
        add("")
        header = "| route | bare ASGI | FastAPI alone | tiffin | tiffin ÷ FastAPI |"
        rule = "|---|---:|---:|---:|---:|"
        bento = inproc.get("bentoml", {}).get(client)
        if bento:
            header += " BentoML | BentoML ÷ FastAPI (its venv) |"
            rule += "---:|---:|"
        add(header)
        add(rule)
        for route in INPROCESS_ROUTES:
            row = (
                f"| {route} | {median(runs['bare'][route]):.1f} | "
                f"{median(runs['fastapi'][route]):.1f} | {median(runs['tiffin'][route]):.1f} | "
                f"{fmt(median(ratios(runs['tiffin'][route], runs['fastapi'][route])))} |"
            )
            if bento:
                row += (
                    f" {median(bento['bentoml'][route]):.1f} | "
                    f"{fmt(median(ratios(bento['bentoml'][route], bento['fastapi'][route])))} |"
                )
            add(row)
        add("")
    layers = inproc["tiffin"].get("layers")
    if layers:
        add(
            "Where tiffin's time goes, `GET /v1/async`, raw driver: the mounted FastAPI app "
            "called as tiffin calls it (`root_path` `/v1`), then one layer of the chain added "
            "per row, outermost last. The minimum over rounds is the cost of the code itself; "
            "the median includes the machine's noise."
        )
        add("")
        add("| chain down to | min µs | added µs | median µs |")
        add("|---|---:|---:|---:|")
        previous = None
        for row in layers:
            added = "" if previous is None else f"{row['min_us'] - previous:+.1f}"
            add(f"| {row['layer']} | {row['min_us']:.1f} | {added} | {row['median_us']:.1f} |")
            previous = row["min_us"]
        add("")
    if "bentoml" in inproc:
        add(
            "BentoML's column is `BenchService.to_asgi()` measured in BentoML's virtualenv "
            "(same package versions) against that environment's own bare apps, with "
            "`PROMETHEUS_MULTIPROC_DIR` set as BentoML requires."
        )
        add("")


def _harness_markdown(results: dict[str, Any], add: Any) -> None:
    harness = results["sections"]["harness"]
    add("## Harness per-test cost")
    add("")
    add("Milliseconds per test: compose a fresh app, run its lifespan, one request, shut down.")
    add("")
    add("| case | ms per test | × the in-process harness |")
    add("|---|---:|---:|")
    base = median(harness["ms_per_test"]["harness_trivial"])
    for key, description in harness["descriptions"].items():
        cost = median(harness["ms_per_test"][key])
        ratio = f"{cost / base:.1f}" if "trivial" in key else ""
        add(f"| {description} | {cost:.3f} | {ratio} |")
    add("")


def _growth_markdown(results: dict[str, Any], drawn: dict[str, str], add: Any) -> None:
    from growth import APIS, MIDDLEWARES, MOUNTS

    growth = results["sections"]["growth"]
    series = growth["us_per_request"]
    add("## Growth")
    add("")
    add(
        f"In-process, raw ASGI driver. The mounted apps are minimal ASGI callables "
        f"({median(series['alone']):.1f} µs per request alone); overhead = the service's time "
        f"minus that. The request goes to the last mount / the last `@api` route."
    )
    add("")
    add("| service | µs per request | overhead µs | overhead ÷ smallest |")
    add("|---|---:|---:|---:|")
    for family, sizes, unit in (
        ("mounts", MOUNTS, "mounted apps"),
        ("starlette_mounts", MOUNTS, "Starlette `Mount` routes (reference, no tiffin)"),
        ("middlewares", MIDDLEWARES, "pass-through user middlewares (1 mount)"),
    ):
        base = overheads(results, f"{family}={sizes[0]}")
        for size in sizes:
            name = f"{family}={size}"
            over = overheads(results, name)
            add(
                f"| {unit}: {size} | {median(series[name]):.1f} | {over:.1f} | "
                f"{fmt(over / base if base else float('nan'))} |"
            )
    base = median(series[f"apis={APIS[0]}"])
    for size in APIS:
        name = f"apis={size}"
        add(
            f"| `@api` routes: {size} (POST; compose {growth['compose_ms'][name]:.0f} ms) | "
            f"{median(series[name]):.1f} | — | {fmt(median(series[name]) / base)} (time) |"
        )
    add("")
    if "growth" in drawn:
        add(f"![growth]({drawn['growth']})")
        add("")


def _imports_markdown(results: dict[str, Any], add: Any) -> None:
    imports = results["sections"]["imports"]
    labels = {
        "tiffin": "`import tiffin`",
        "tiffin.testing": "`import tiffin.testing` (the pytest plugin's module)",
        "fastapi": "`import fastapi`",
        "service_tiffin": "the benchmark service module with tiffin (tiffin + FastAPI + body)",
        "bentoml": "`import bentoml`",
        "service_bentoml": "the same service module with BentoML",
    }
    add("## Import times")
    add("")
    add("Seconds inside a fresh interpreter (interpreter start excluded), median (min–max).")
    add("")
    add("| import | median s | min–max s |")
    add("|---|---:|---:|")
    for key, values in imports["seconds"].items():
        spread = f"{min(values):.3f}–{max(values):.3f}"
        add(f"| {labels.get(key, key)} | {median(values):.3f} | {spread} |")
    add("")
    heaviest = imports.get("heaviest_under_tiffin") or []
    if heaviest:
        add(
            "Where `import tiffin` spends its time (`python -X importtime`, one run; the self "
            "times of every module it imports, summed per top-level package): "
            + ", ".join(f"{item['module']} {item['ms']:.0f} ms" for item in heaviest)
            + "."
        )
        add("")


def _method_markdown(results: dict[str, Any], add: Any) -> None:
    add("## How it was measured")
    add("")
    add(
        "- The contenders serve the same routes: `GET /v1/async` and `GET /v1/sync` of one "
        "FastAPI app (`apps/fastapi_app.py`), and `POST /echo_async`, `POST /echo_sync` "
        'taking `{"text": ...}` and answering it as text. (a) `apps/bare_asgi.py` does the '
        "same without a framework; (b) the FastAPI app alone has the POST routes as FastAPI "
        "routes with a pydantic body; (c) and (d) serve `apps/service.py`, one source for "
        "both: the app mounted at `/v1`, two `@api` methods, one pure-ASGI user middleware, "
        'metrics and `traffic={"timeout": 10}`.'
    )
    add(
        "- Every server runs one worker on asyncio with h11 (no uvloop, no httptools in either "
        "environment) and logs as it does by default (uvicorn's access log at `info`, "
        "BentoML's own request log), to a file."
    )
    add(
        "- All socket contenders are up at once; each round loads every route of every "
        "contender in turn, the order rotating between rounds. Memory is read from "
        "`/proc/PID/status` (VmRSS) of the serving process."
    )
    add(
        "- Run it: `python benchmarks/run.py` (full, writes this file), "
        "`python benchmarks/run.py --quick` (a smoke run into `benchmarks/.quick/`), "
        "`--no-bentoml`, `--tool python` (no wrk), `--sections socket,growth`."
    )
    add("")
