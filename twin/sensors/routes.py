"""HTTP writes of SensorThings (Create-Update-Delete and the dataArray extension).

  POST   /sta/v1.1/{EntitySet}                        create (Things with deep insert) -> 201
  POST   /sta/v1.1/Observations                       one Observation -> 201
  POST   /sta/v1.1/Datastreams({id})/Observations     one Observation of that Datastream -> 201
  POST   /sta/v1.1/CreateObservations                 dataArray batches -> 201 + self-links
  PATCH  /sta/v1.1/{EntitySet}({id})                  change the members sent -> 200
  DELETE /sta/v1.1/{EntitySet}({id})                  delete (and what depends on it) -> 200

Observations may be posted, changed and deleted with a sensor key of the Datastream's
provider or Thing, or an admin key; every other write needs an admin key (twin.sensors.keys).
The answers to created entities carry their self-link as Location. A refused Observation
batch is one error answer listing every refused item (`refused`: index and reason) and writes
nothing.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from twin.db.pool import connection
from twin.editing.routes import api_key
from twin.errors import InvalidParameter, NotFound
from twin.http.body import json_body
from twin.http.errors import answers_errors
from twin.sensors import API_ROOT, store
from twin.sensors.ingest import Unreadable, ingest_observations
from twin.sensors.keys import SensorWriter, require_admin, sensor_writer
from twin.settings import get_settings

JSON = "application/json"
ID = re.compile(r"[1-9][0-9]{0,17}")
DATA_ARRAY_COMPONENTS = {
    "phenomenonTime",
    "result",
    "resultTime",
    "resultQuality",
    "validTime",
    "parameters",
    "FeatureOfInterest/id",
}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=headers)


def _base(request: Request) -> str:
    return (get_settings().internal.server_url or str(request.base_url).rstrip("/")) + API_ROOT


def _entity_set(name: str, observations: bool = True) -> str:
    sets = store.TABLES if observations else store.CREATORS
    if name not in sets:
        raise NotFound(f"no entity set {name[:40]!r}; entity sets: {', '.join(store.TABLES)}")
    return name


def _entity_id(raw: str, entity_set: str) -> int:
    if not ID.fullmatch(raw):
        raise NotFound(f"no {entity_set}({raw[:40]}): ids are positive integers")
    return int(raw)


async def _body(request: Request, what: str) -> Any:
    return await json_body(
        request, limit=get_settings().http.max_body_bytes, what=what, media_types=(JSON,)
    )


def _writer(conn: Any, request: Request) -> SensorWriter:
    return sensor_writer(conn, api_key(request))


def _created(base: str, entity_set: str, entity_id: int, body: Any) -> Response:
    link = f"{base}/{entity_set}({entity_id})"
    shown = {k: v for k, v in body.items() if not isinstance(v, list | dict) or k == "properties"}
    return _json(
        {"@iot.id": entity_id, "@iot.selfLink": link, **shown},
        status=201,
        headers={"Location": link},
    )


@answers_errors
async def create(request: Request) -> Response:
    """POST /sta/v1.1/{entity_set}: a new entity (Observations through the ingest)."""
    entity_set = _entity_set(request.path_params["entity_set"])
    body = await _body(request, f"a {entity_set.removesuffix('s')} as JSON")
    if not isinstance(body, dict):
        raise InvalidParameter(f"the body must be one {entity_set.removesuffix('s')} (an object)")
    return await _create(request, entity_set, body, None)


@answers_errors
async def create_in_datastream(request: Request) -> Response:
    """POST /sta/v1.1/Datastreams({id})/Observations: an Observation of that Datastream."""
    datastream = _entity_id(request.path_params["datastream_id"], "Datastreams")
    body = await _body(request, "an Observation as JSON")
    if not isinstance(body, dict):
        raise InvalidParameter("the body must be one Observation (an object)")
    return await _create(request, "Observations", body, datastream)


async def _create(
    request: Request, entity_set: str, body: dict[str, Any], datastream: int | None
) -> Response:
    def work() -> int:
        with connection(timeout=10) as conn:
            writer = _writer(conn, request)
            if entity_set == "Observations":
                return store.create_observation(conn, body, writer, datastream)
            require_admin(writer, f"creating {entity_set}")
            return store.create(conn, entity_set, body)

    entity_id = await run_in_threadpool(work)
    return _created(_base(request), entity_set, entity_id, body)


@answers_errors
async def create_observations(request: Request) -> Response:
    """POST /sta/v1.1/CreateObservations: the dataArray extension. All rows of the request
    are written, or none; the answer lists each row's self-link in request order."""
    body = await _body(request, "a list of dataArray batches as JSON")
    items = data_array_items(body)

    def work() -> list[int]:
        with connection(timeout=10) as conn:
            writer = _writer(conn, request)
            report = ingest_observations(conn, items, caller=writer)
        if not report.ok:
            raise report.error()
        return report.ids

    ids = await run_in_threadpool(work)
    base = _base(request)
    return _json([f"{base}/Observations({n})" for n in ids], status=201)


def data_array_items(body: object) -> list[object]:
    """The Observations of a CreateObservations body, in order (row indexes in refusals
    count across the whole request)."""
    if not isinstance(body, list):
        raise InvalidParameter(
            'CreateObservations takes a list: [{"Datastream": {"@iot.id": n}, "components": '
            '["phenomenonTime", "result"], "dataArray": [[time, result], ...]}]'
        )
    items: list[object] = []
    for number, batch in enumerate(body):
        where = f"batch {number}"
        if not isinstance(batch, dict):
            raise InvalidParameter(f"{where} is not an object")
        components = batch.get("components")
        if not isinstance(components, list) or not components:
            raise InvalidParameter(f"{where}: components must be a list of member names")
        unknown = [c for c in components if c not in DATA_ARRAY_COMPONENTS]
        if unknown:
            raise InvalidParameter(
                f"{where}: unknown component {unknown[0]!r}; components are "
                + ", ".join(sorted(DATA_ARRAY_COMPONENTS))
            )
        if len(set(components)) != len(components):
            raise InvalidParameter(f"{where}: a component is named twice")
        for needed in ("phenomenonTime", "result"):
            if needed not in components:
                raise InvalidParameter(f"{where}: components must include {needed}")
        rows = batch.get("dataArray")
        if not isinstance(rows, list):
            raise InvalidParameter(f"{where}: dataArray must be a list of rows")
        datastream = batch.get("Datastream")
        names = ["FeatureOfInterest" if c == "FeatureOfInterest/id" else c for c in components]
        width = len(names)
        for row in rows:
            if isinstance(row, list) and len(row) == width:
                item: dict[str, Any] = dict(zip(names, row, strict=True))
                if "FeatureOfInterest" in item:
                    item["FeatureOfInterest"] = {"@iot.id": item["FeatureOfInterest"]}
                if datastream is not None:
                    item["Datastream"] = datastream
                items.append(item)
            else:  # the ingest refuses it with its index, beside the other rows' problems
                items.append(
                    Unreadable(
                        f"{where}: a dataArray row is a list of {width} values "
                        f"({', '.join(components)}), not {str(row)[:60]}"
                    )
                )
    return items


@answers_errors
async def change(request: Request) -> Response:
    """PATCH /sta/v1.1/{entity_set}({id}): change the members sent (admins; an Observation
    also with a sensor key of its Datastream)."""
    entity_set = _entity_set(request.path_params["entity_set"])
    entity_id = _entity_id(request.path_params["entity_id"], entity_set)
    body = await _body(request, "the members to change as JSON")

    def work() -> None:
        with connection(timeout=10) as conn:
            writer = _writer(conn, request)
            if entity_set != "Observations":
                require_admin(writer, f"changing {entity_set}")
            store.update(conn, entity_set, entity_id, body, writer)

    await run_in_threadpool(work)
    link = f"{_base(request)}/{entity_set}({entity_id})"
    return _json({"@iot.id": entity_id, "@iot.selfLink": link, **body})


@answers_errors
async def remove(request: Request) -> Response:
    """DELETE /sta/v1.1/{entity_set}({id}): delete it and what cannot live without it
    (admins; an Observation also with a sensor key of its Datastream)."""
    entity_set = _entity_set(request.path_params["entity_set"])
    entity_id = _entity_id(request.path_params["entity_id"], entity_set)

    def work() -> None:
        with connection(timeout=30) as conn:
            writer = _writer(conn, request)
            if entity_set != "Observations":
                require_admin(writer, f"deleting {entity_set}")
            store.delete(conn, entity_set, entity_id, writer)

    await run_in_threadpool(work)
    return Response(status_code=200)


async def change_or_remove(request: Request) -> Response:
    """PATCH or DELETE /sta/v1.1/{entity_set}({id}) (one row of the route table)."""
    return await (change if request.method == "PATCH" else remove)(request)
