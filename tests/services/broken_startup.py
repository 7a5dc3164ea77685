"""A service whose startup hook fails, for `tiffin serve`'s startup error."""

import tiffin


@tiffin.service
class Broken:
    @tiffin.on_startup
    def load(self) -> None:
        raise FileNotFoundError("model weights not found at /models/missing.bin")
