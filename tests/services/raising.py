"""A service whose API raises, for how `tiffin serve` logs an exception in user code."""

import tiffin


@tiffin.service
class Raising:
    @tiffin.api
    def divide(self) -> float:
        return 1 / 0
