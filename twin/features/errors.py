"""The error every bad feature query becomes: a 400 with the OGC exception shape."""

from __future__ import annotations

import logging

import psycopg

from twin.errors import TwinError

LOG = logging.getLogger("twin.features")


class FeatureQueryError(TwinError):
    """A query parameter, filter or CRS the user got wrong; the message names it."""

    status = 400

    def __init__(self, description: str, code: str = "InvalidParameterValue",
                 status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.status = status


# What a database refusal of a value means to the user, by SQLSTATE; the database's own text
# (which quotes SQL, column and table names) goes to the server log only.
DATA_ERRORS: dict[str, str] = {
    "22003": "a number is out of the range the database holds",
    "22008": "a date or time is out of the range the database holds",
    "22007": "a date or time is not valid",
    "22P02": "a value is not valid for the property it is compared with",
    "22023": "a value is not valid for the operation it is used in",
    "22012": "the query divides by zero",
}
CHECK_PARAMETERS = "limit, offset, bbox, datetime, property values and the filter"


def database_refusal(exc: psycopg.Error, what: str = CHECK_PARAMETERS) -> str:
    """A 400's description for a value the database refused, without the database's text:
    what kind of value it was and which parameters to check (`what`)."""
    LOG.info("database refused a value: %s", str(exc).splitlines()[0] if str(exc) else exc)
    kind = DATA_ERRORS.get(getattr(exc, "sqlstate", None) or "", "a value is not valid")
    return f"the query could not be evaluated: {kind}; check {what}"
