"""RFC 3339 instants as the items parameters and CQL2 filters read them.

One parser for both: `datetime=` (twin.features.params) and DATE()/TIMESTAMP() literals of a
filter (twin.features.filters) accept the same spellings and refuse the rest with the same
message. It lives apart from both so neither imports the other for it.
"""

from __future__ import annotations

import datetime as dt

from twin.features.errors import FeatureQueryError


def instant(text: str, what: str) -> dt.date | dt.datetime:
    """An RFC 3339 date or date-time; naive date-times are UTC."""
    text = text.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        moment = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise FeatureQueryError(
            f"{what} {text!r} is not an RFC 3339 date or date-time "
            "(e.g. 2021-05-01 or 2021-05-01T10:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
