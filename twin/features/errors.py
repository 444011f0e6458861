"""The error every bad feature query becomes: a 400 with the OGC exception shape."""

from __future__ import annotations

from twin.errors import TwinError


class FeatureQueryError(TwinError):
    """A query parameter, filter or CRS the user got wrong; the message names it."""

    status = 400

    def __init__(self, description: str, code: str = "InvalidParameterValue",
                 status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.status = status
