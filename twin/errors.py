"""The twin's one error model: every error a user can act on is a class here (or a subclass
elsewhere) that declares its HTTP status, its OGC exception code, its Retry-After and any
extra headers. twin.http.errors renders every one of them, on every path, as
{"code", "type", "description"}; the CLI prints the description.

Codes follow the OGC/OWS exception vocabulary pygeoapi uses (InvalidParameterValue,
MissingParameterValue, NotFound, OperationNotSupported, NoApplicableCode); the statuses that
vocabulary has no word for use the HTTP reason phrase in the same CamelCase form.
"""

from __future__ import annotations

# One pause for every "come back later" answer (database down, pool exhausted, server busy,
# a layer being rebuilt): clients and proxies see one number, not 1, 2 or 5 by path.
RETRY_AFTER_S = 2


class TwinError(Exception):
    """Base for errors shown to users: a one-line message (CLI) or a JSON body (HTTP)."""

    status: int = 400
    code: str = "InvalidParameterValue"
    retry_after: int | None = None

    def headers(self) -> dict[str, str]:
        """Headers the answer carries besides Retry-After (Allow, ETag, WWW-Authenticate)."""
        return {}

    def details(self) -> dict[str, object]:
        """Members of the JSON body besides code, type and description (e.g. limits)."""
        return {}


class InvalidParameter(TwinError):
    """A query parameter, body member or path value the client got wrong (400)."""


class MissingParameter(TwinError):
    code = "MissingParameterValue"


class Unauthorized(TwinError):
    """No API key, or one that is not valid (401 with the realm to authenticate in)."""

    status = 401
    code = "Unauthorized"
    realm = 'Bearer realm="almaty-twin"'

    def headers(self) -> dict[str, str]:
        invalid = ', error="invalid_token"' if "not valid" in str(self) else ""
        return {"WWW-Authenticate": self.realm + invalid}


class Forbidden(TwinError):
    status = 403
    code = "Forbidden"


class NotFound(TwinError):
    status = 404
    code = "NotFound"


class MethodNotAllowed(TwinError):
    """A method this address does not take; `allow` lists the ones it does."""

    status = 405
    code = "OperationNotSupported"

    def __init__(self, description: str, allow: str = "GET, HEAD, OPTIONS") -> None:
        super().__init__(description)
        self.allow = allow

    def headers(self) -> dict[str, str]:
        return {"Allow": self.allow}


class ReadOnlyServer(MethodNotAllowed):
    """A write sent to a read-only server (`twin serve --read-only`, on a replica): 405
    naming the primary (host:port) that takes it."""

    code = "ReadOnlyServer"

    def __init__(self, method: str, primary: str | None) -> None:
        where = f"the primary at {primary}" if primary else "the primary (TWIN_PRIMARY_URL)"
        super().__init__(f"this server is read-only (a replica): send {method} to {where}")
        self.primary = primary

    def details(self) -> dict[str, object]:
        return {"primary": self.primary}


class NotAcceptable(TwinError):
    status = 406
    code = "NotAcceptable"


class RequestTimeout(TwinError):
    status = 408
    code = "RequestTimeout"


class Conflict(TwinError):
    status = 409
    code = "Conflict"


class PreconditionFailed(TwinError):
    """An If-Match that no longer names the current version; the answer carries that one."""

    status = 412
    code = "PreconditionFailed"

    def __init__(self, description: str, etag: str | None = None) -> None:
        super().__init__(description)
        self.etag = etag

    def headers(self) -> dict[str, str]:
        return {"ETag": self.etag} if self.etag else {}


class PayloadTooLarge(TwinError):
    status = 413
    code = "PayloadTooLarge"


class UnsupportedMediaType(TwinError):
    status = 415
    code = "UnsupportedMediaType"


class PreconditionRequired(TwinError):
    status = 428
    code = "PreconditionRequired"


class HeadersTooLarge(TwinError):
    status = 431
    code = "RequestHeaderFieldsTooLarge"


class ServerError(TwinError):
    """A fault of the twin's own (a bug): the log has the details, the client a plain line."""

    status = 500
    code = "NoApplicableCode"


class ServiceUnavailable(TwinError):
    """Come back later: the answer carries Retry-After."""

    status = 503
    code = "ServiceUnavailable"
    retry_after = RETRY_AFTER_S


class DatabaseNotRunning(ServiceUnavailable):
    code = "DatabaseUnavailable"

    def __init__(self, detail: str = "") -> None:
        hint = (
            "the twin's database is not running: start it with `twin db start` "
            "(or `twin up`), or set DATABASE_URL to an existing PostGIS"
        )
        super().__init__(f"{hint}{': ' + detail if detail else ''}")


class DatabaseBusy(DatabaseNotRunning):
    """Every pooled connection is in use: the database is up, the twin is saturated (503)."""

    code = "ServerBusy"

    def __init__(self, detail: str = "") -> None:
        TwinError.__init__(
            self,
            "the twin is busy: every database connection is in use; "
            f"retry shortly{': ' + detail if detail else ''}",
        )


class ImportFailed(TwinError):
    """An import was refused; the database was left as it was."""
