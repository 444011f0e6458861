"""The errors of a feature query, in the twin's one error model (twin.errors): a bad
parameter or filter (400), a layer the database lacks (503) and a query the database failed
(500). twin.http.errors renders each of them."""

from __future__ import annotations

import logging

import psycopg

from twin.errors import InvalidParameter, ServerError, ServiceUnavailable

LOG = logging.getLogger("twin.features")


class FeatureQueryError(InvalidParameter):
    """A query parameter, filter or CRS the user got wrong; the message names it. A few
    carry another status and code (e.g. a filter over the server's bounds)."""

    def __init__(
        self, description: str, code: str = "InvalidParameterValue", status: int = 400
    ) -> None:
        super().__init__(description)
        self.code = code
        self.status = status


class NotMigrated(ServiceUnavailable):
    """A catalog layer whose table or column the database lacks: the database is older than
    the catalog (a new layer or property), which `twin migrate` fixes."""

    def __init__(self, collection: str, exc: psycopg.Error) -> None:
        super().__init__(
            f"collection {collection!r} is not in the database yet "
            f"({exc.diag.message_primary}): run `twin migrate`"
        )


class QueryFailed(ServerError):
    """The database failed a query for a reason of its own; the log has its text."""

    def __init__(self) -> None:
        super().__init__("the database could not answer this query; the server log has the details")


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
