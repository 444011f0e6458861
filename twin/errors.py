"""Errors a user can act on: each carries the message we show them."""


class TwinError(Exception):
    """Base for errors shown to users as a one-line message (CLI) or a 4xx JSON body (HTTP)."""

    status = 400


class DatabaseNotRunning(TwinError):
    status = 503

    def __init__(self, detail: str = "") -> None:
        hint = ("the twin's database is not running: start it with `twin db start` "
                "(or `twin up`), or set DATABASE_URL to an existing PostGIS")
        super().__init__(f"{hint}{': ' + detail if detail else ''}")


class ImportFailed(TwinError):
    """An import was refused; the database was left as it was."""


class DatabaseBusy(DatabaseNotRunning):
    """Every pooled connection is in use: the database is up, the twin is saturated (503)."""

    def __init__(self, detail: str = "") -> None:
        TwinError.__init__(self, "the twin is busy: every database connection is in use; "
                                 f"retry shortly{': ' + detail if detail else ''}")
