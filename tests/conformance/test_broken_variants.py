"""The suite can fail: each broken variant of tiffin (tests/conformance/variants/) makes
exactly the checks about its rule fail, and every other check of the same areas pass.

Together with the differences declared for BentoML, every check is shown able to fail;
conformance/PROVEN.md lists, per check, what proves it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.conformance.variants import VARIANTS
from tests.conformance.variants.tools import Broken
from tiffin.conformance.bentoml_adapter import DIFFERENCES
from tiffin.conformance.cases import Case, Column, Outcome
from tiffin.conformance.implementations import SERVER_DIFFERENCES
from tiffin.conformance.registry import Check, all_checks
from tiffin.conformance.spec import FRAMEWORK_CAPABILITIES, installed
from tiffin.conformance.targets import ReferenceContext

PROVEN = Path(__file__).parents[2] / "conformance" / "PROVEN.md"
REFERENCE = {"reference", "apis", "mounts", "misses", "trusted_host", "service_objects"}


def case(variant: Broken, check: Check) -> Case:
    implementation = variant.implementation()
    column = Column(implementation.name, variant.framework, "inprocess")

    def context() -> ReferenceContext:
        return ReferenceContext(implementation, variant.framework, "inprocess")

    return Case(check, column, context)


async def outcome(case: Case) -> Outcome:
    try:
        await case.arun()
    except Exception as exc:
        return Outcome(case.check, case.column, "fail", f"{type(exc).__name__}: {exc}")
    return Outcome(case.check, case.column, "pass")


async def outcomes_of(variant: Broken) -> dict[str, Outcome]:
    """Every check of the variant's areas, side by side: each starts a service of its own,
    so their waits (timeouts, held slots) overlap instead of adding up."""
    checks = checks_of_its_areas(variant)
    found = await asyncio.gather(*(outcome(case(variant, check)) for check in checks))
    return {check.id: result for check, result in zip(checks, found, strict=True)}


def checks_of_its_areas(variant: Broken) -> list[Check]:
    capabilities = FRAMEWORK_CAPABILITIES[variant.framework] | REFERENCE
    return [c for c in all_checks() if c.area in variant.areas and not c.missing(capabilities)]


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_a_broken_variant_fails_exactly_its_checks(variant: Broken) -> None:
    if not installed(variant.framework):
        pytest.skip(f"does not apply: {variant.framework} is not installed")
    outcomes = asyncio.run(outcomes_of(variant))
    failed = sorted(check_id for check_id, o in outcomes.items() if o.status == "fail")
    unexpected = {c: outcomes[c].detail for c in failed if c not in variant.fails}
    assert failed == sorted(variant.fails), f"failed: {failed}; unexpected: {unexpected}"
    assert all(outcomes[c].detail for c in failed), "a failure says what went wrong"


def proofs() -> dict[str, list[str]]:
    """Per check, what shows it can fail: broken variants, then declared differences."""
    found: dict[str, list[str]] = {check.id: [] for check in all_checks()}
    for variant in VARIANTS:
        for check_id in variant.fails:
            found[check_id].append(f"variant `{variant.name}`: {variant.what}")
    for difference in (*DIFFERENCES, *SERVER_DIFFERENCES):
        where = "BentoML" if difference in DIFFERENCES else "tiffin on a server"
        found[difference.check].append(f"{where} differs: {difference.behaviour}")
    return found


def render_proven() -> str:
    lines = [
        "# Every check proven able to fail",
        "",
        "Written by `TIFFIN_WRITE_PROVEN=1 pytest tests/conformance/test_broken_variants.py`;",
        "a test fails when this file is out of date. A broken variant is a small wrong",
        "implementation (tests/conformance/variants/) that fails exactly the checks listed",
        "for it among the checks of their areas; a declared difference is an implementation",
        "observed to break the rule (a strict expected failure in the grid).",
        "",
        "| check | proven by |",
        "|---|---|",
    ]
    for check_id, ways in proofs().items():
        text = "<br>".join(way.replace("|", "\\|") for way in ways) or "**nothing yet**"
        lines.append(f"| {check_id} | {text} |")
    return "\n".join(lines) + "\n"


def test_every_check_is_proven_able_to_fail() -> None:
    assert [check_id for check_id, ways in proofs().items() if not ways] == []


def test_the_listing_is_up_to_date() -> None:
    if os.environ.get("TIFFIN_WRITE_PROVEN"):
        PROVEN.write_text(render_proven())
    assert PROVEN.read_text() == render_proven()
