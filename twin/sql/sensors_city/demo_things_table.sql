-- The demo's Things before they are written (filled by COPY from twin/sensors/demo.py).
CREATE TEMP TABLE demo_things (
    n                  integer PRIMARY KEY,
    name               text NOT NULL,
    description        text NOT NULL,
    properties         jsonb,
    provider_id        bigint NOT NULL,
    layer              text,
    feature_id         text,
    district           text,
    lon                double precision NOT NULL,
    lat                double precision NOT NULL,
    sensor_id          bigint NOT NULL,
    observed_property  bigint NOT NULL,
    stream_name        text NOT NULL,
    observation_type   text NOT NULL,
    result_kind        text NOT NULL,
    unit               jsonb NOT NULL,
    stream_properties  jsonb
) ON COMMIT DROP;
