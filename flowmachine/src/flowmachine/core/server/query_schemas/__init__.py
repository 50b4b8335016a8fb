"""Marshmallow schemas for every query kind exposed through the API, as the seed's developer guide lays out.

Each module defines `<Kind>Exposed` (builds the FlowMachine query object; its parameters are the schema's fields)
and `<Kind>Schema` (validates and deserialises parameters into it). A kind registers itself with
`registry.register_kind(TOP_LEVEL)` (listed in `flowmachine_query.FlowmachineQuerySchema`) or
`register_kind(REFERENCE_LOCATION)` (listed in `reference_location.ReferenceLocationSchema`).
"""
