"""The twin's HTTP surface: the route table (who serves each URL), the error renderer, the
one bridge to pygeoapi's internals, the OpenAPI document and the app that puts them together."""
