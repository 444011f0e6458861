"""Walkability and the 15-minute city: the analysis engine (network, access, hazards)."""

from twin.errors import InvalidParameter


class AnalysisInputError(InvalidParameter):
    """A question the analysis cannot answer as asked (point outside the city, unknown plot,
    minutes out of range, bad GeoJSON): shown to the user as a 400 naming the problem."""

    status = 400
