"""A service whose startup fails in an on_startup hook, after its instance was made."""

import tiffin


@tiffin.service
class Broken:
    @tiffin.on_startup
    def load_model(self):
        raise RuntimeError("the model file is missing")

    @tiffin.api
    def ping(self) -> str:
        return "pong"
