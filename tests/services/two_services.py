"""A module holding two services: `tiffin serve` must be told which one."""

import tiffin


@tiffin.service
class First:
    pass


@tiffin.service
class Second:
    pass
