"""Links from /collections/change_events to the public change feeds (JSON Feed, Atom) and the
monthly summary, so a reader of the collection finds them."""

from __future__ import annotations

from typing import Any


def feed_links(base: str, collection: str) -> list[dict[str, Any]]:
    """The feeds of `collection` (only change_events has them)."""
    if collection != "change_events":
        return []
    return [
        {
            "rel": "alternate",
            "type": "application/feed+json",
            "title": "The change feed (JSON Feed 1.1; ?district=&layer=&lang=en|ru|kk)",
            "href": f"{base}/changes/feed.json",
        },
        {
            "rel": "alternate",
            "type": "application/atom+xml",
            "title": "The change feed (Atom; ?district=&layer=&lang=en|ru|kk)",
            "href": f"{base}/changes/atom.xml",
        },
        {
            "rel": "related",
            "type": "application/json",
            "title": "A month of changes per district (?district=&month=YYYY-MM)",
            "href": f"{base}/changes/summary",
        },
    ]
