"""Services whose worker count comes from the decorator, for `tiffin serve`'s default."""

import tiffin


@tiffin.service(workers=3, resources={"cpu": "8"})
class ByWorkers:
    pass


@tiffin.service(resources={"cpu": "2"})
class ByCpu:
    pass


@tiffin.service(resources={"cpu": "500m"})
class ByMillicpu:
    pass


@tiffin.service
class Unsized:
    pass
