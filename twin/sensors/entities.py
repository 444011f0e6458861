"""The SensorThings entity model as the read side sees it: each entity set's table, its
properties (SQL over the table alias, a fixed whitelist) and its relations.

Every identifier a read puts in SQL comes from here, never from the request: a $filter path,
a $select name or an $orderby key is looked up in these maps and a name they lack is a 400.
The tables are those of twin/db/migrations/0011_sensors.sql.
"""

from __future__ import annotations

from dataclasses import dataclass

# what a property is, for filters and for the JSON it becomes:
# id, string, json, geometry, datetime, interval (start, end columns), result (Observation)
Kind = str


@dataclass(frozen=True)
class Property:
    """A property of an entity: `columns` are SQL over the alias {t} (one, or start and end
    of an interval); the first is what filters and $orderby compare."""

    name: str
    kind: Kind
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Relation:
    """A navigation property. `fk` is the column linking the two tables: on this entity's
    table for a single-valued relation (many to one), on the target's for a collection; a
    many-to-many relation goes through `link` (table, this side's column, target's column)."""

    name: str
    target: str  # entity set
    many: bool
    fk: str = ""
    link: tuple[str, str, str] | None = None


@dataclass(frozen=True)
class EntitySet:
    """An entity set (Things) and its entity type (Thing)."""

    name: str
    singular: str
    table: str
    properties: tuple[Property, ...]
    relations: tuple[Relation, ...]
    # the default order and tie-break of a page: an index the table has
    order: tuple[str, ...] = ("{t}.id",)

    def property(self, name: str) -> Property | None:
        return next((p for p in self.properties if p.name == name), None)

    def relation(self, name: str) -> Relation | None:
        return next((r for r in self.relations if r.name == name), None)


def _text(name: str, column: str = "") -> Property:
    return Property(name, "string", ("{t}." + (column or name),))


def _json(name: str, column: str = "") -> Property:
    return Property(name, "json", ("{t}." + (column or name),))


ID = Property("id", "id", ("{t}.id",))
NAME, DESCRIPTION = _text("name"), _text("description")
ENCODING = _text("encodingType", "encoding_type")
PROPERTIES = _json("properties")
# A Thing's properties carry its link to the twin's layers (layer, featureId, district: the
# columns twin.sensors.store fills from them, for Things written by SQL too) under what its
# provider gave, so `Things?$filter=properties/district eq 'Turksib'` just works.
THING_PROPERTIES = Property(
    "properties",
    "json",
    (
        "(jsonb_strip_nulls(jsonb_build_object('layer', {t}.layer, 'featureId', {t}.feature_id, "
        "'district', {t}.district)) || coalesce({t}.properties, '{{}}'::jsonb))",
    ),
)

ENTITY_SETS: dict[str, EntitySet] = {
    s.name: s
    for s in (
        EntitySet(
            "Things",
            "Thing",
            "sta_things",
            (ID, NAME, DESCRIPTION, THING_PROPERTIES),
            (
                Relation(
                    "Locations",
                    "Locations",
                    True,
                    link=("sta_thing_locations", "thing_id", "location_id"),
                ),
                Relation("HistoricalLocations", "HistoricalLocations", True, fk="thing_id"),
                Relation("Datastreams", "Datastreams", True, fk="thing_id"),
            ),
        ),
        EntitySet(
            "Locations",
            "Location",
            "sta_locations",
            (
                ID,
                NAME,
                DESCRIPTION,
                ENCODING,
                Property("location", "geometry", ("{t}.location",)),
                PROPERTIES,
            ),
            (
                Relation(
                    "Things",
                    "Things",
                    True,
                    link=("sta_thing_locations", "location_id", "thing_id"),
                ),
                Relation(
                    "HistoricalLocations",
                    "HistoricalLocations",
                    True,
                    link=("sta_location_history", "location_id", "historical_location_id"),
                ),
            ),
        ),
        EntitySet(
            "HistoricalLocations",
            "HistoricalLocation",
            "sta_historical_locations",
            (ID, Property("time", "datetime", ("{t}.time",))),
            (
                Relation("Thing", "Things", False, fk="thing_id"),
                Relation(
                    "Locations",
                    "Locations",
                    True,
                    link=("sta_location_history", "historical_location_id", "location_id"),
                ),
            ),
        ),
        EntitySet(
            "Datastreams",
            "Datastream",
            "sta_datastreams",
            (
                ID,
                NAME,
                DESCRIPTION,
                _text("observationType", "observation_type"),
                _json("unitOfMeasurement", "unit_of_measurement"),
                Property("observedArea", "geometry", ("{t}.observed_area",)),
                Property(
                    "phenomenonTime", "interval", ("{t}.phenomenon_start", "{t}.phenomenon_end")
                ),
                PROPERTIES,
            ),
            (
                Relation("Thing", "Things", False, fk="thing_id"),
                Relation("Sensor", "Sensors", False, fk="sensor_id"),
                Relation(
                    "ObservedProperty", "ObservedProperties", False, fk="observed_property_id"
                ),
                Relation("Observations", "Observations", True, fk="datastream_id"),
            ),
        ),
        EntitySet(
            "Sensors",
            "Sensor",
            "sta_sensors",
            (ID, NAME, DESCRIPTION, ENCODING, _text("metadata"), PROPERTIES),
            (Relation("Datastreams", "Datastreams", True, fk="sensor_id"),),
        ),
        EntitySet(
            "ObservedProperties",
            "ObservedProperty",
            "sta_observed_properties",
            (ID, NAME, _text("definition"), DESCRIPTION, PROPERTIES),
            (Relation("Datastreams", "Datastreams", True, fk="observed_property_id"),),
        ),
        EntitySet(
            "Observations",
            "Observation",
            "sta_observations",
            (
                ID,
                Property(
                    "phenomenonTime", "interval", ("{t}.phenomenon_time", "{t}.phenomenon_time_end")
                ),
                Property("resultTime", "datetime", ("{t}.result_time",)),
                Property("result", "result", ("{t}.result_number", "{t}.result_json")),
                _json("resultQuality", "result_quality"),
                Property("validTime", "interval", ("{t}.valid_start", "{t}.valid_end")),
                _json("parameters"),
            ),
            (
                Relation("Datastream", "Datastreams", False, fk="datastream_id"),
                Relation(
                    "FeatureOfInterest", "FeaturesOfInterest", False, fk="feature_of_interest_id"
                ),
            ),
            # the primary key's order: a Datastream's page is one index range
            order=("{t}.datastream_id", "{t}.phenomenon_time"),
        ),
        EntitySet(
            "FeaturesOfInterest",
            "FeatureOfInterest",
            "sta_features_of_interest",
            (
                ID,
                NAME,
                DESCRIPTION,
                ENCODING,
                Property("feature", "geometry", ("{t}.feature",)),
                PROPERTIES,
            ),
            (Relation("Observations", "Observations", True, fk="feature_of_interest_id"),),
        ),
    )
}
