"""Marshmallow schemas for every query kind exposed through the API, as the seed's developer guide lays out.

Each module defines `<Kind>Exposed` (builds the FlowMachine query object) and `<Kind>Schema` (validates and
deserialises parameters into it). Top-level kinds are listed in `flowmachine_query.FlowmachineQuerySchema`,
reference locations in `reference_location.ReferenceLocationSchema`.
"""
