"""Way (b): a test of your own, parametrized over every check that applies to your service."""

from pathlib import Path

from examples.conformance_user.service import Shop

from tiffin.conformance import conformance_cases


@conformance_cases(Shop, grid_dir=Path(__file__).parent / "grid")
def test_shop_conforms(conformance_case):
    conformance_case.run()
