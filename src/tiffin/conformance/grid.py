"""The compatibility grid: checks as rows, (implementation, framework, transport) as columns.

Every run merges its cells into ``GRID.json`` and rewrites ``GRID.md`` from it, so
runs that cover different columns (tiffin here, BentoML in its own environment)
add up to one grid. Rows are the checks that exist now.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tiffin.conformance.cases import NotApplicable, Outcome
from tiffin.conformance.registry import AREAS, all_checks
from tiffin.conformance.spec import ALL_TRANSPORTS as TRANSPORTS
from tiffin.conformance.spec import FRAMEWORKS

MARKS = {"pass": "✅", "fail": "❌", "differs": "⚠️", "n/a": "·"}
STATUSES = ("pass", "differs", "fail", "n/a")


def write_grid(
    folder: str | Path, outcomes: Iterable[Outcome], skipped: Iterable[NotApplicable] = ()
) -> tuple[Path, Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / "GRID.json", folder / "GRID.md"
    cells = _load_cells(json_path)
    for outcome in outcomes:
        cells.setdefault(outcome.check.id, {})[outcome.column.key] = {
            "status": outcome.status,
            "detail": outcome.detail[:400],
        }
    for item in skipped:
        if any(name.startswith("installed:") for name in item.missing):
            continue  # a fact about this environment, not about the implementation
        cells.setdefault(item.check.id, {})[item.column.key] = {
            "status": "n/a",
            "detail": item.reason,
        }
    checks = all_checks()
    cells = {check.id: cells.get(check.id, {}) for check in checks}
    columns = sorted({key for row in cells.values() for key in row}, key=_column_order)
    document = {
        "columns": columns,
        "summary": {
            column: dict(
                Counter(cells[c.id][column]["status"] for c in checks if column in cells[c.id])
            )
            for column in columns
        },
        "checks": [
            {
                "id": check.id,
                "area": AREAS[check.area],
                "rule": check.rule,
                "results": {
                    column: cells[check.id][column]
                    for column in columns
                    if column in cells[check.id]
                },
            }
            for check in checks
        ],
    }
    json_path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    md_path.write_text(render_markdown(document))
    return md_path, json_path


def _load_cells(path: Path) -> dict[str, dict[str, dict[str, str]]]:
    try:
        document = json.loads(path.read_text())
        return {row["id"]: dict(row["results"]) for row in document["checks"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _column_order(key: str) -> tuple[int, str, int, str, int]:
    implementation, subject, transport = [*key.split("/"), "", "", ""][:3]
    rank = {"tiffin": 0, "tiffin-ray": 1, "bentoml": 2}.get(implementation, 3)
    subject_rank = FRAMEWORKS.index(subject) if subject in FRAMEWORKS else len(FRAMEWORKS)
    transport_rank = TRANSPORTS.index(transport) if transport in TRANSPORTS else len(TRANSPORTS)
    return rank, implementation, subject_rank, subject, transport_rank


def render_markdown(document: dict[str, Any]) -> str:
    columns: list[str] = document["columns"]
    heads = [column.replace("/", "<br>") for column in columns]
    lines = [
        "# Conformance grid",
        "",
        "Written by the conformance run (`pytest conformance/`, or `tiffin conformance`). "
        "Rows are the checks of CONTRACT.md section 12; columns are implementation / "
        "framework (or the user's service) / transport: `inprocess`, `socket` (served by "
        "uvicorn; for BentoML, by `bentoml serve`), or served by `hypercorn` or `granian`. "
        "tiffin's conformance/PROVEN.md shows, per check, what proves it able to fail.",
        "",
        f"{MARKS['pass']} passes · {MARKS['differs']} a declared difference (an expected, "
        f"strict failure) · {MARKS['fail']} fails · {MARKS['n/a']} does not apply "
        "(the framework lacks a capability the rule needs)",
        "",
        "## Summary",
        "",
        "| column | " + " | ".join(STATUSES) + " |",
        "|---|" + "---:|" * len(STATUSES),
    ]
    for column in columns:
        counts = document["summary"].get(column, {})
        lines.append(f"| {column} | " + " | ".join(str(counts.get(s, 0)) for s in STATUSES) + " |")
    lines += [
        "",
        "## Checks",
        "",
        "| check | rule | " + " | ".join(heads) + " |",
        "|---|---|" + ":-:|" * len(columns),
    ]
    for row in document["checks"]:
        marks = [
            MARKS[row["results"][c]["status"]] if c in row["results"] else " " for c in columns
        ]
        lines.append(f"| {row['id']} | {row['rule']} | " + " | ".join(marks) + " |")
    notes = [
        (row["id"], column, result)
        for row in document["checks"]
        for column, result in row["results"].items()
        if result["status"] in ("differs", "fail")
    ]
    if notes:
        lines += [
            "",
            "## Differences and failures",
            "",
            "| check | column | status | what happens |",
            "|---|---|---|---|",
        ]
        for check_id, column, result in notes:
            detail = result["detail"].replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {check_id} | {column} | {result['status']} | {detail} |")
    return "\n".join(lines) + "\n"
