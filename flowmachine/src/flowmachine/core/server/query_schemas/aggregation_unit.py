"""The `aggregation_unit` field and what the API's units mean as FlowMachine spatial units.

Besides FlowKit's admin0..admin3 and lon-lat, a unit may be `polygon-<layer>`, a layer loaded with
`flowdb load-geography --layer` (published in the schemas' enum for each loaded layer, see
`custom_geography.with_layer_units`), and FlowKit's `mapping_table`, `geom_table` and `geom_table_join_column`
fields name tables of the allowed schemas (`flowmachine.core.custom_geography`).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from flowmachine.core.custom_geography import check_unit, custom_unit, is_polygon_unit_name
from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.spatial_unit import SpatialUnit, make_spatial_unit

AGGREGATION_UNITS = ("admin0", "admin1", "admin2", "admin3", "lon-lat")
CUSTOM_TABLE_FIELDS = ("mapping_table", "geom_table", "geom_table_join_column")


class _UnitChoice(validate.OneOf):
    """FlowKit's units (the published enum), or `polygon-<layer>` (checked against the loaded layers when
    the spec is loaded by the server)."""

    def __call__(self, value: Any) -> Any:
        if is_polygon_unit_name(value):
            return value
        return super().__call__(value)


class AggregationUnitKind(fields.String):
    """One of admin0..admin3, lon-lat, or polygon-<layer>."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=_UnitChoice(AGGREGATION_UNITS), **kwargs)


class UnitWithTables(str):
    """An aggregation unit's name (it compares, hashes and serialises as the name, e.g. `admin3`) carrying the
    spec's custom-table fields, so that every query kind building its unit from `self.aggregation_unit`
    honours them (AggregationUnitMixin puts it in place of the name once the fields are checked)."""

    tables: dict[str, str | None]

    def __new__(cls, name: str, tables: dict[str, str | None]) -> UnitWithTables:
        value = super().__new__(cls, name)
        value.tables = dict(tables)
        return value

    def __reduce__(self) -> tuple[Any, ...]:
        return (UnitWithTables, (str(self), self.tables))


def get_spatial_unit_obj(
    aggregation_unit: str,
    *,
    mapping_table: str | None = None,
    geom_table: str | None = None,
    geom_table_join_column: str | None = None,
) -> SpatialUnit:
    """The spatial unit of a unit name and FlowKit's custom-table fields (given, or carried by the name)."""
    tables = {
        "mapping_table": mapping_table,
        "geom_table": geom_table,
        "geom_table_join_column": geom_table_join_column,
    }
    if isinstance(aggregation_unit, UnitWithTables) and not any(tables.values()):
        tables = aggregation_unit.tables
    name = str(aggregation_unit)
    custom = custom_unit(name, **tables)
    return custom if custom is not None else make_spatial_unit(name)


class AggregationUnitMixin(Schema):
    """`aggregation_unit`, plus FlowKit's custom-geometry fields (tables of the allowed schemas only)."""

    aggregation_unit = AggregationUnitKind(required=True)
    mapping_table = fields.String(allow_none=True, load_default=None)
    geom_table = fields.String(allow_none=True, load_default=None)
    geom_table_join_column = fields.String(allow_none=True, load_default=None)

    @validates_schema
    def _custom_geography(self, data: dict[str, Any], **kwargs: Any) -> None:
        unit_name = data.get("aggregation_unit")
        if unit_name is None:
            return
        tables = {name: data.get(name) for name in CUSTOM_TABLE_FIELDS}
        try:
            unit = custom_unit(unit_name, **tables)
            check_unit(unit)
        except InvalidSpecError as exc:
            named = [name for name in CUSTOM_TABLE_FIELDS if tables[name] is not None]
            field = next(
                (n for n in named if n in str(exc)), named[0] if named else "aggregation_unit"
            )
            raise ValidationError(str(exc), field) from None
        if any(tables.values()):
            # the exposed query's `aggregation_unit` carries the checked tables (see UnitWithTables)
            data["aggregation_unit"] = UnitWithTables(unit_name, tables)
