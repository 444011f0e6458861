"""Links from a collection to its 3D content (OGC API GeoVolumes-shaped): the buildings'
3D Tiles tileset and the scene export, so a client finds them from /collections/buildings."""

from __future__ import annotations

from typing import Any

TILES3D = "application/json+3dtiles"
GLB = "model/gltf-binary"


def three_d_links(base: str, collection: str) -> list[dict[str, Any]]:
    """The 3D content of `collection` (only the buildings have one today)."""
    if collection != "buildings":
        return []
    return [
        {
            "rel": "alternate",
            "type": TILES3D,
            "title": "3D Tiles 1.1 of the buildings (CesiumJS)",
            "href": f"{base}/3dtiles/buildings/tileset.json",
        },
        {
            "rel": "alternate",
            "type": GLB,
            "title": "A district as a glTF scene (?district=NAME, polycentre= or bbox=)",
            "href": f"{base}/collections/buildings/scene.glb",
        },
    ]
