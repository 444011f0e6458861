"""SensorThings entities written: create (with deep insert), update (PATCH), delete.

One function per operation, over the tables of migration 0011. Bodies are the standard's JSON
(camelCase members); a member an entity does not have, or one of the wrong type, is a 400
naming it. Deep insert: a Thing may carry its Locations and Datastreams, a Datastream its
Thing, Sensor and ObservedProperty, each either a reference {"@iot.id": n} or a new entity;
everything of one request is written in one transaction, or nothing is.

The twin's link of a Thing to its layers rides in the Thing's properties: `provider` (the
data provider whose sensor key may post for it), `layer` + `featureId` (e.g. lighting_lines
and its feature id) and `district`. They are kept in the properties too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from twin.db.retry import in_transaction
from twin.errors import Forbidden, InvalidParameter, NotFound
from twin.sensors.ingest import KIND_WORDS, ingest_observations, parse_time
from twin.sensors.keys import SensorWriter, provider_id
from twin.sqlfiles import query

OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/"
# What a Datastream's results must be, from its observationType (the standard's five).
RESULT_KINDS = {
    OM + "OM_Measurement": "number",
    OM + "OM_CountObservation": "number",
    OM + "OM_TruthObservation": "boolean",
    OM + "OM_CategoryObservation": "text",
    OM + "OM_Observation": "json",
}
GEOJSON_TYPES = ("application/geo+json", "application/vnd.geo+json")
# Entity set -> table.
TABLES = {
    "Things": "sta_things",
    "Locations": "sta_locations",
    "Sensors": "sta_sensors",
    "ObservedProperties": "sta_observed_properties",
    "Datastreams": "sta_datastreams",
    "FeaturesOfInterest": "sta_features_of_interest",
    "Observations": "sta_observations",
}
# Members a PATCH may change, per entity set: member -> (column, kind).
PATCHABLE: dict[str, dict[str, tuple[str, str]]] = {
    "Things": {
        "name": ("name", "text"),
        "description": ("description", "text"),
        "properties": ("properties", "object"),
    },
    "Locations": {
        "name": ("name", "text"),
        "description": ("description", "text"),
        "location": ("location", "geometry"),
        "properties": ("properties", "object"),
    },
    "Sensors": {
        "name": ("name", "text"),
        "description": ("description", "text"),
        "encodingType": ("encoding_type", "text"),
        "metadata": ("metadata", "text"),
        "properties": ("properties", "object"),
    },
    "ObservedProperties": {
        "name": ("name", "text"),
        "definition": ("definition", "text"),
        "description": ("description", "text"),
        "properties": ("properties", "object"),
    },
    "Datastreams": {
        "name": ("name", "text"),
        "description": ("description", "text"),
        "unitOfMeasurement": ("unit_of_measurement", "object"),
        "observedArea": ("observed_area", "geometry"),
        "properties": ("properties", "object"),
    },
    "FeaturesOfInterest": {
        "name": ("name", "text"),
        "description": ("description", "text"),
        "feature": ("feature", "geometry"),
        "properties": ("properties", "object"),
    },
    "Observations": {
        "result": ("result", "result"),
        "resultTime": ("result_time", "time"),
        "resultQuality": ("result_quality", "json"),
        "parameters": ("parameters", "object"),
        "validTime": ("valid", "interval"),
    },
}


def _body(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidParameter(f"{what} must be a JSON object")
    return value


def _members(body: Mapping[str, Any], what: str, allowed: set[str]) -> None:
    unknown = [k for k in body if k not in allowed and not k.startswith("@iot.")]
    if unknown:
        raise InvalidParameter(
            f"{what}: unknown member {unknown[0]!r}; a {what} has {', '.join(sorted(allowed))}"
        )


def _text(body: Mapping[str, Any], name: str, what: str, default: str | None = None) -> str:
    value = body.get(name, default)
    if value is None:
        raise InvalidParameter(f"{what}: {name} is missing")
    if not isinstance(value, str):
        raise InvalidParameter(f"{what}: {name} must be a string")
    return value


def _object(body: Mapping[str, Any], name: str, what: str) -> Jsonb | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidParameter(f"{what}: {name} must be a JSON object")
    return Jsonb(value)


def _geometry(value: object, what: str) -> str:
    """GeoJSON geometry text from a geometry or a Feature (the two forms clients send)."""
    if isinstance(value, Mapping) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, Mapping) or not isinstance(value.get("type"), str):
        raise InvalidParameter(f"{what} must be a GeoJSON geometry (or Feature)")
    coords = value.get("coordinates", value.get("geometries"))
    if coords is None:
        raise InvalidParameter(f"{what}: the GeoJSON geometry has no coordinates")
    return orjson.dumps(value).decode()


def _encoding(body: Mapping[str, Any], what: str) -> str:
    encoding = _text(body, "encodingType", what, "application/geo+json")
    if encoding not in GEOJSON_TYPES:
        raise InvalidParameter(
            f"{what}: encodingType {encoding!r} is not supported; use application/geo+json"
        )
    return encoding


def _reference(value: object) -> int | None:
    """The id of a {"@iot.id": n} reference, or None for a new entity."""
    if isinstance(value, Mapping) and "@iot.id" in value:
        ref = value["@iot.id"]
        if isinstance(ref, str) and ref.isdigit():
            ref = int(ref)
        if not isinstance(ref, int) or isinstance(ref, bool) or ref <= 0:
            raise InvalidParameter(f"@iot.id must be a positive integer, not {ref!r}")
        return ref
    return None


def _existing(conn: psycopg.Connection, entity_set: str, entity_id: int) -> int:
    row = conn.execute(
        query("sensors/entity_exists", table=TABLES[entity_set]), {"id": entity_id}
    ).fetchone()
    if row is None:
        raise InvalidParameter(f"no {entity_set}({entity_id}) to link to")
    return entity_id


def _linked(
    conn: psycopg.Connection,
    value: object,
    entity_set: str,
    create: Callable[[psycopg.Connection, Mapping[str, Any]], int],
) -> int:
    ref = _reference(value)
    if ref is not None:
        return _existing(conn, entity_set, ref)
    return create(conn, _body(value, entity_set))


# ---- create -------------------------------------------------------------------------------


def thing_links(conn: psycopg.Connection, properties: Mapping[str, Any]) -> dict[str, Any]:
    """The Thing's columns that link it to the twin, from its properties: provider (made if
    new), layer, featureId, district."""
    provider = properties.get("provider")
    if provider is not None and not isinstance(provider, str):
        raise InvalidParameter("Thing: properties.provider must be a provider's name")
    for name in ("layer", "district"):
        if properties.get(name) is not None and not isinstance(properties[name], str):
            raise InvalidParameter(f"Thing: properties.{name} must be a string")
    feature = properties.get("featureId")
    return {
        "provider_id": provider_id(conn, provider, create=True) if provider else None,
        "layer": properties.get("layer"),
        "feature_id": None if feature is None else str(feature),
        "district": properties.get("district"),
    }


def create_thing(conn: psycopg.Connection, body: Mapping[str, Any]) -> int:
    """A Thing, with its Locations and Datastreams when the body carries them."""
    what = "Thing"
    _members(body, what, {"name", "description", "properties", "Locations", "Datastreams"})
    properties = body.get("properties") or {}
    if not isinstance(properties, Mapping):
        raise InvalidParameter("Thing: properties must be a JSON object")
    thing_id = conn.execute(
        query("sensors/insert_thing"),
        {
            "name": _text(body, "name", what),
            "description": _text(body, "description", what, ""),
            "properties": Jsonb(properties) if properties else None,
            **thing_links(conn, properties),
        },
    ).fetchone()[0]
    locations = body.get("Locations") or []
    if not isinstance(locations, list):
        raise InvalidParameter("Thing: Locations must be a list")
    if locations:
        ids = [_linked(conn, each, "Locations", create_location) for each in locations]
        link_locations(conn, thing_id, ids)
    datastreams = body.get("Datastreams") or []
    if not isinstance(datastreams, list):
        raise InvalidParameter("Thing: Datastreams must be a list")
    for each in datastreams:
        stream = _body(each, "Datastream")
        if _reference(stream) is not None:
            raise InvalidParameter("Thing: Datastreams are created with their Thing, not linked")
        create_datastream(conn, stream, thing_id=thing_id)
    return thing_id


def link_locations(conn: psycopg.Connection, thing_id: int, location_ids: list[int]) -> None:
    """Make these the Thing's Locations (and record a HistoricalLocation)."""
    conn.execute(
        query("sensors/link_thing_location"), {"thing_id": thing_id, "location_ids": location_ids}
    )


def create_location(conn: psycopg.Connection, body: Mapping[str, Any]) -> int:
    """A Location (GeoJSON), linked to the Things the body names."""
    what = "Location"
    _members(
        body, what, {"name", "description", "encodingType", "location", "properties", "Things"}
    )
    if "location" not in body:
        raise InvalidParameter("Location: location is missing")
    location_id = conn.execute(
        query("sensors/insert_location"),
        {
            "name": _text(body, "name", what),
            "description": _text(body, "description", what, ""),
            "encoding_type": _encoding(body, what),
            "geometry": _geometry(body["location"], "Location: location"),
            "properties": _object(body, "properties", what),
        },
    ).fetchone()[0]
    things = body.get("Things") or []
    if not isinstance(things, list):
        raise InvalidParameter("Location: Things must be a list")
    for each in things:
        ref = _reference(each)
        if ref is None:
            raise InvalidParameter('Location: Things are linked by reference {"@iot.id": n}')
        link_locations(conn, _existing(conn, "Things", ref), [location_id])
    return location_id


def create_sensor(conn: psycopg.Connection, body: Mapping[str, Any]) -> int:
    what = "Sensor"
    _members(body, what, {"name", "description", "encodingType", "metadata", "properties"})
    return conn.execute(
        query("sensors/insert_sensor"),
        {
            "name": _text(body, "name", what),
            "description": _text(body, "description", what, ""),
            "encoding_type": _text(body, "encodingType", what, "application/pdf"),
            "metadata": _text(body, "metadata", what, ""),
            "properties": _object(body, "properties", what),
        },
    ).fetchone()[0]


def create_observed_property(conn: psycopg.Connection, body: Mapping[str, Any]) -> int:
    what = "ObservedProperty"
    _members(body, what, {"name", "definition", "description", "properties"})
    return conn.execute(
        query("sensors/insert_observed_property"),
        {
            "name": _text(body, "name", what),
            "definition": _text(body, "definition", what),
            "description": _text(body, "description", what, ""),
            "properties": _object(body, "properties", what),
        },
    ).fetchone()[0]


def result_kind(observation_type: object) -> str:
    """number, boolean, text or json, from the Datastream's observationType."""
    if not isinstance(observation_type, str):
        raise InvalidParameter("Datastream: observationType is missing")
    kind = RESULT_KINDS.get(observation_type) or RESULT_KINDS.get(OM + observation_type)
    if kind is None:
        raise InvalidParameter(
            f"Datastream: observationType {observation_type!r} is not one of "
            + ", ".join(sorted(k.removeprefix(OM) for k in RESULT_KINDS))
            + f" (under {OM})"
        )
    return kind


def create_datastream(
    conn: psycopg.Connection, body: Mapping[str, Any], thing_id: int | None = None
) -> int:
    """A Datastream with its Thing (unless given), Sensor and ObservedProperty."""
    what = "Datastream"
    allowed = {
        "name",
        "description",
        "observationType",
        "unitOfMeasurement",
        "observedArea",
        "properties",
        "Sensor",
        "ObservedProperty",
    }
    _members(body, what, allowed | ({"Thing"} if thing_id is None else set()))
    kind = result_kind(body.get("observationType"))
    observation_type = body["observationType"]
    if not observation_type.startswith(OM):
        observation_type = OM + observation_type
    unit = body.get("unitOfMeasurement")
    if not isinstance(unit, Mapping):
        raise InvalidParameter(
            'Datastream: unitOfMeasurement is missing (e.g. {"name": "microgram per cubic '
            'metre", "symbol": "µg/m³", "definition": "..."})'
        )
    for part in ("Sensor", "ObservedProperty") + (("Thing",) if thing_id is None else ()):
        if part not in body:
            raise InvalidParameter(f"Datastream: {part} is missing (a reference or a new one)")
    if thing_id is None:
        thing_id = _linked(conn, body["Thing"], "Things", create_thing)
    sensor_id = _linked(conn, body["Sensor"], "Sensors", create_sensor)
    property_id = _linked(
        conn, body["ObservedProperty"], "ObservedProperties", create_observed_property
    )
    area = body.get("observedArea")
    return conn.execute(
        query("sensors/insert_datastream"),
        {
            "name": _text(body, "name", what),
            "description": _text(body, "description", what, ""),
            "observation_type": observation_type,
            "result_kind": kind,
            "unit_of_measurement": Jsonb(unit),
            "observed_area": None if area is None else _geometry(area, "observedArea"),
            "properties": _object(body, "properties", what),
            "thing_id": thing_id,
            "sensor_id": sensor_id,
            "observed_property_id": property_id,
        },
    ).fetchone()[0]


def create_feature_of_interest(conn: psycopg.Connection, body: Mapping[str, Any]) -> int:
    what = "FeatureOfInterest"
    _members(body, what, {"name", "description", "encodingType", "feature", "properties"})
    if "feature" not in body:
        raise InvalidParameter("FeatureOfInterest: feature is missing")
    return conn.execute(
        query("sensors/insert_feature_of_interest"),
        {
            "name": _text(body, "name", what),
            "description": _text(body, "description", what, ""),
            "encoding_type": _encoding(body, what),
            "geometry": _geometry(body["feature"], "FeatureOfInterest: feature"),
            "properties": _object(body, "properties", what),
        },
    ).fetchone()[0]


CREATORS: dict[str, Callable[[psycopg.Connection, Mapping[str, Any]], int]] = {
    "Things": create_thing,
    "Locations": create_location,
    "Sensors": create_sensor,
    "ObservedProperties": create_observed_property,
    "Datastreams": create_datastream,
    "FeaturesOfInterest": create_feature_of_interest,
}


def create(conn: psycopg.Connection, entity_set: str, body: object) -> int:
    """Create an entity of `entity_set` (not Observations: see ingest) in one transaction."""
    if entity_set not in CREATORS:
        raise NotFound(f"no entity set {entity_set!r}")
    with conn.transaction():
        return CREATORS[entity_set](conn, _body(body, entity_set))


# ---- update -------------------------------------------------------------------------------


def update(
    conn: psycopg.Connection,
    entity_set: str,
    entity_id: int,
    body: object,
    caller: SensorWriter | None = None,
) -> None:
    """Change the members a PATCH names (others stay); 404 for a missing entity. A sensor
    key's `caller` may change only the Observations of its own Datastreams (None: the twin
    itself; the route lets only admins change other entities)."""
    patch = _body(body, "the PATCH body")
    allowed = PATCHABLE[entity_set]
    _members(patch, entity_set.removesuffix("s"), set(allowed))
    if not patch:
        raise InvalidParameter("the PATCH body names no member to change")
    in_transaction(
        conn,
        lambda: _update(conn, entity_set, entity_id, patch, caller),
        f"changing {entity_set}({entity_id})",  # a log label
    )


def _update(
    conn: psycopg.Connection,
    entity_set: str,
    entity_id: int,
    patch: Mapping[str, Any],
    caller: SensorWriter | None,
) -> None:
    """`update`'s writes, in its transaction (run again after a lock cycle)."""
    allowed = PATCHABLE[entity_set]
    if entity_set == "Observations":
        _update_observation(conn, entity_id, patch, caller)
        return
    parts, values = [], {"id": entity_id}
    for member, value in patch.items():
        if member.startswith("@iot."):
            continue
        column, kind = allowed[member]
        values[column] = _value(kind, value, f"{entity_set}: {member}")
        placeholder = sql.Placeholder(column)
        if kind == "geometry":
            placeholder = sql.SQL("ST_SetSRID(ST_GeomFromGeoJSON({}), 4326)").format(placeholder)
        parts.append(sql.SQL("{} = {}").format(sql.Identifier(column), placeholder))
    if entity_set == "Things" and "properties" in patch:  # the links follow the properties
        for column, value in thing_links(conn, patch["properties"] or {}).items():
            values[column] = value
            parts.append(sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column)))
    row = conn.execute(
        query(
            "sensors/update_entity",
            table=TABLES[entity_set],
            assignments=sql.SQL(", ").join(parts),
        ),
        values,
    ).fetchone()
    if row is None:
        raise NotFound(f"no {entity_set}({entity_id})")


def _value(kind: str, value: object, what: str) -> Any:
    if kind == "text":
        if not isinstance(value, str):
            raise InvalidParameter(f"{what} must be a string")
        return value
    if kind == "object":
        if value is not None and not isinstance(value, Mapping):
            raise InvalidParameter(f"{what} must be a JSON object")
        return None if value is None else Jsonb(value)
    if kind == "geometry":
        return None if value is None else _geometry(value, what)
    return None if value is None else Jsonb(value)


def find_observation(conn: psycopg.Connection, observation_id: int) -> tuple[Any, ...]:
    """(datastream id, phenomenon time, result kind, thing id, provider id) of an
    Observation; 404 when there is none."""
    row = conn.execute(query("sensors/find_observation"), {"id": observation_id}).fetchone()
    if row is None:
        raise NotFound(f"no Observations({observation_id})")
    return row


def _observation_to_edit(
    conn: psycopg.Connection, observation_id: int, caller: SensorWriter | None, what: str
) -> tuple[int, Any, str]:
    """(datastream id, phenomenon time, result kind) of an Observation the caller may edit,
    its Datastream locked (as the ingest locks it: a batch and an edit of the same Datastream
    keep its latest value in turn); 404 or 403."""
    datastream, when, kind, thing, provider = find_observation(conn, observation_id)
    if caller is not None and not caller.may_write(thing, provider):
        raise Forbidden(
            f"{caller.name} may not {what} Observations({observation_id}): Datastream "
            f"{datastream} is not one of its own"
        )
    conn.execute(query("sensors/lock_datastreams"), {"ids": [datastream]})
    return datastream, when, kind


def _keep_hours(conn: psycopg.Connection, ids: list[int], times: list[Any]) -> None:
    """After number results were changed or deleted at these (Datastream, time): the hours
    retention may already have aggregated (below its late mark, read FOR SHARE so that a run
    moves it only after this commits) are aggregated again at once from their raw rows, and
    noted in sta_late_hours like a late Observation's, so the next retention run aggregates
    them again too (a run aggregating concurrently may have read the rows before the edit)."""
    (before,) = conn.execute(query("sensors/edit_mark")).fetchone() or (None,)
    if before is None:
        return
    late = [(ds, at) for ds, at in zip(ids, times, strict=True) if at < before]
    if late:
        values = {"ids": [ds for ds, _ in late], "times": [at for _, at in late]}
        conn.execute(query("sensors/aggregate_edited_hours"), values)
        conn.execute(query("sensors/note_late_hours"), values)


def _update_observation(
    conn: psycopg.Connection,
    observation_id: int,
    patch: Mapping[str, Any],
    caller: SensorWriter | None = None,
) -> None:
    """An Observation's result, resultTime, resultQuality, parameters or validTime. Its
    phenomenonTime is its key: to move it, delete it and post it again. A changed result
    reaches its hour's aggregate and the Datastream's latest value in the same transaction."""
    datastream, when, kind = _observation_to_edit(conn, observation_id, caller, "change")
    values: dict[str, Any] = {
        "datastream_id": datastream,
        "phenomenon_time": when,
        "id": observation_id,
    }
    parts = []

    def put(column: str, value: Any) -> None:
        values[column] = value
        parts.append(sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column)))

    for member, value in patch.items():
        if member == "result":
            from twin.sensors.ingest import _fits

            if not _fits(kind, value):
                raise InvalidParameter(
                    f"result {value!r} does not fit Datastream {datastream}: its results are "
                    f"{KIND_WORDS[kind]}"
                )
            number = kind == "number"
            put("result_number", value if number else None)
            put("result_json", None if number else Jsonb(value))
        elif member == "resultTime":
            put("result_time", None if value is None else _instant(value, "resultTime"))
        elif member == "validTime":
            start, end = (None, None) if value is None else _interval(value, "validTime")
            put("valid_start", start)
            put("valid_end", end)
        elif member == "resultQuality":
            put("result_quality", None if value is None else Jsonb(value))
        elif member == "parameters":
            put("parameters", _value("object", value, "parameters"))
    if parts:
        changed = conn.execute(
            query("sensors/update_observation", assignments=sql.SQL(", ").join(parts)), values
        ).fetchone()
        if changed is None:  # deleted meanwhile
            raise NotFound(f"no Observations({observation_id})")
        conn.execute(query("sensors/refresh_latest"), {"id": datastream})
        if "result" in patch and kind == "number":
            _keep_hours(conn, [datastream], [when])


def _instant(value: object, what: str) -> Any:
    start, end = _interval(value, what)
    if end is not None:
        raise InvalidParameter(f"{what} must be an instant, not an interval")
    return start


def _interval(value: object, what: str) -> tuple[Any, Any]:
    try:
        return parse_time(value, what)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None


# ---- delete -------------------------------------------------------------------------------


def delete(
    conn: psycopg.Connection,
    entity_set: str,
    entity_id: int,
    caller: SensorWriter | None = None,
) -> None:
    """Delete an entity and what cannot live without it (the standard's integrity rules):
    a Thing's Datastreams, a Sensor's or ObservedProperty's Datastreams, and their
    Observations; a FeatureOfInterest's Observations. A deleted Observation leaves its hour's
    aggregate and its Datastream's latest value true. A sensor key's `caller` may delete
    only the Observations of its own Datastreams (None: the twin itself; the route lets only
    admins delete other entities)."""
    if entity_set not in TABLES:
        raise NotFound(f"no entity set {entity_set!r}")
    in_transaction(
        conn,
        lambda: _delete(conn, entity_set, entity_id, caller),
        f"deleting {entity_set}({entity_id})",  # a log label
    )


def _delete(
    conn: psycopg.Connection, entity_set: str, entity_id: int, caller: SensorWriter | None
) -> None:
    """`delete`'s writes, in its transaction (run again after a lock cycle)."""
    if entity_set == "Observations":
        datastream, when, kind = _observation_to_edit(conn, entity_id, caller, "delete")
        gone = conn.execute(
            query("sensors/delete_observation"),
            {"datastream_id": datastream, "phenomenon_time": when, "id": entity_id},
        ).fetchone()
        if gone is None:  # deleted meanwhile
            raise NotFound(f"no Observations({entity_id})")
        conn.execute(query("sensors/refresh_latest"), {"id": datastream})
        if kind == "number":
            _keep_hours(conn, [datastream], [when])
        return
    owners = {
        "Things": "thing_id",
        "Sensors": "sensor_id",
        "ObservedProperties": "observed_property_id",
        "Datastreams": "id",
    }
    if entity_set in owners:
        column = owners[entity_set]
        conn.execute(
            query("sensors/delete_observations_of_datastreams", column=column),
            {"id": entity_id},
        )
        if entity_set != "Datastreams":
            conn.execute(query("sensors/delete_datastreams_of", column=column), {"id": entity_id})
    if entity_set == "FeaturesOfInterest":
        _delete_observations_of_feature(conn, entity_id)
    row = conn.execute(
        query("sensors/delete_entity", table=TABLES[entity_set]), {"id": entity_id}
    ).fetchone()
    if row is None:
        raise NotFound(f"no {entity_set}({entity_id})")


def _delete_observations_of_feature(conn: psycopg.Connection, feature_id: int) -> None:
    """A FeatureOfInterest's Observations, their Datastreams locked first; their latest
    values and hourly aggregates then follow, as for one deleted Observation."""
    streams = [
        ds for (ds,) in conn.execute(query("sensors/observations_of_feature"), {"id": feature_id})
    ]
    if not streams:
        return
    conn.execute(query("sensors/lock_datastreams"), {"ids": sorted(streams)})
    gone = conn.execute(query("sensors/delete_observations_of_feature"), {"id": feature_id})
    numbers = [(ds, at) for ds, at, number in gone.fetchall() if number]
    for datastream in streams:
        conn.execute(query("sensors/refresh_latest"), {"id": datastream})
    if numbers:
        _keep_hours(conn, [ds for ds, _ in numbers], [at for _, at in numbers])


def create_observation(
    conn: psycopg.Connection,
    body: object,
    caller: SensorWriter | None,
    datastream_id: int | None = None,
) -> int:
    """One Observation through the ingest (the same checks as a batch); its @iot.id."""
    report = ingest_observations(conn, [body], caller=caller, datastream_id=datastream_id)
    if not report.ok:
        raise report.error()
    return report.ids[0]
