"""Way (a): subclass the suite and provide one fixture, your service."""

from pathlib import Path

import pytest
from examples.conformance_user.service import Shop

from tiffin.conformance import ConformanceSuite


class TestShopConforms(ConformanceSuite):
    conformance_grid_dir = str(Path(__file__).parent / "grid")

    @pytest.fixture
    def conformance_service(self):
        return Shop
