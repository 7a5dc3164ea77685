"""``tiffin.validators``: the annotations of BentoML's ``bentoml.validators`` that tiffin reads.

``Annotated[Path, ContentType("image/png")]`` declares the content type a file
input must have (checked with shell-style patterns, ``"image/*"``) and the one a
file output is served with when its name says none.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ContentType"]


@dataclass(frozen=True)
class ContentType:
    content_type: str

    def __post_init__(self) -> None:
        if not isinstance(self.content_type, str) or "/" not in self.content_type:
            from tiffin.exceptions import BentoMLConfigException

            raise BentoMLConfigException(
                f"ContentType needs a media type such as 'image/png' or 'image/*', "
                f"got {self.content_type!r}"
            )
