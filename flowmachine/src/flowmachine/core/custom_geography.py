"""Custom geography: FlowKit's `mapping_table` / `geom_table` / `geom_table_join_column`, and polygon layers.

Units (all `GeomSpatialUnit`s, so cached, redacted and served like the built-in ones):

* `polygon-<layer>` (`spatial_unit.PolygonLayerSpatialUnit`, beside the other units so that
  `make_spatial_unit` needs nothing after it): the regions of a layer an operator loaded with
  `flowdb load-geography FILE --layer <layer>` into `custom_geography.<layer>` (FlowKit's Python-only
  `polygon` unit, reachable through the API). Location column `pcod`, as admin units. A layer's polygons never
  overlap (the loader refuses that), and a cell inside two regions would still belong to one only (the
  smallest pcod), so no subscriber can be differenced out between two regions of a layer.
* `admin<N>` + `mapping_table` (`MappedAdminSpatialUnit`): cells are placed by the table's `id` → `admin<N>pcod`
  rows instead of point-in-polygon; geometries are still `geography.admin<N>`.
* `lon-lat` + `geom_table` (+ `geom_table_join_column`, and optionally `mapping_table`)
  (`MappedLonLatSpatialUnit`): the point `geom_point` of the geom table's row whose join column equals the cell
  id (without a mapping table), or the mapping table's value for the cell (with one).

Table names come from requests, so a table is only ever named as `schema.table` in `ALLOWED_SCHEMAS`, checked
against the database catalogue (`check`) before any SQL is built, and quoted with psycopg.sql. A mapping that
places one cell in two regions, or a geom table with two points for one key, is refused: FlowKit duplicates
the cell's events into every region, which lets two overlapping regions' counts be differenced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.spatial_unit import (
    LAYER_NAME,
    POLYGON_PREFIX,
    AdminSpatialUnit,
    CellSpatialUnit,
    GeomSpatialUnit,
    LonLatSpatialUnit,
    PolygonLayerSpatialUnit,
    make_spatial_unit,
)

if TYPE_CHECKING:
    from flowmachine.core.context import Context

ALLOWED_SCHEMAS = ("geography", "custom_geography")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}\Z")


def is_polygon_unit_name(name: object) -> bool:
    """True for `polygon-<layer>` with a well-formed layer name (whether or not it is loaded)."""
    return (
        isinstance(name, str)
        and name.startswith(POLYGON_PREFIX)
        and bool(LAYER_NAME.match(name[len(POLYGON_PREFIX) :]))
    )


def parse_table(text: str, field: str) -> tuple[str, str]:
    """`(schema, table)` of a `schema.table` name whose schema is allowed; InvalidSpecError otherwise."""
    parts = text.split(".") if isinstance(text, str) else []
    if len(parts) != 2 or not all(_IDENTIFIER.match(p) for p in parts):
        raise InvalidSpecError(
            f"{field} must be a table name of the form schema.table, not {text!r}"
        )
    if parts[0] not in ALLOWED_SCHEMAS:
        raise InvalidSpecError(
            f"{field} must be a table in one of the schemas {', '.join(ALLOWED_SCHEMAS)}, not {text!r}"
        )
    return parts[0], parts[1]


def _check_column(name: str, field: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise InvalidSpecError(f"{field} must be a column name, not {name!r}")
    return name


# the database catalogue ------------------------------------------------------------------------------------


def table_columns(ctx: Context, schema: str, table: str) -> set[str] | None:
    """The columns of `schema.table` (a table, view or materialised view), None if there is none."""
    with ctx.pool.connection() as conn:
        rows = conn.execute(
            """SELECT a.attname FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               LEFT JOIN pg_catalog.pg_attribute a
                 ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
               WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'v', 'm', 'p', 'f')""",
            (schema, table),
        ).fetchall()
    return {r[0] for r in rows if r[0] is not None} if rows else None


def _require_columns(ctx: Context, table: tuple[str, str], needed: list[str], field: str) -> None:
    columns = table_columns(ctx, *table)
    if columns is None:
        raise InvalidSpecError(f"{field}: there is no table {table[0]}.{table[1]}")
    missing = [c for c in needed if c not in columns]
    if missing:
        raise InvalidSpecError(
            f"{field}: {table[0]}.{table[1]} has no column {', '.join(missing)} "
            f"(it needs {', '.join(needed)})"
        )


def _require_single_valued(
    ctx: Context, table: tuple[str, str], key: str, value: str | None, field: str
) -> None:
    """Each `key` of the table has one `value` (one row, when `value` is None)."""
    counted = (
        sql.SQL("count(DISTINCT {})").format(sql.Identifier(value))
        if value
        else sql.SQL("count(*)")
    )
    with ctx.pool.connection() as conn:
        row = conn.execute(
            sql.SQL("SELECT {k}::text FROM {t} GROUP BY {k} HAVING {n} > 1 LIMIT 1").format(
                k=sql.Identifier(key), t=sql.Identifier(*table), n=counted
            )
        ).fetchone()
    if row is not None:
        what = f"more than one {value}" if value else "more than one row"
        raise InvalidSpecError(
            f"{field}: {table[0]}.{table[1]} has {what} for {key} {row[0]!r}; a location must map to one "
            "place only (otherwise two overlapping regions could be differenced)"
        )


# checking units while a spec is loaded ---------------------------------------------------------------------

_CHECK_CONTEXT: ContextVar[Context | None] = ContextVar(
    "custom_geography_check_context", default=None
)


@contextmanager
def checking_geography(ctx: Context) -> Iterator[None]:
    """While active, loading a spec checks its unit's tables and layer against `ctx`'s database."""
    token = _CHECK_CONTEXT.set(ctx)
    try:
        yield
    finally:
        _CHECK_CONTEXT.reset(token)


def check_unit(unit: object) -> None:
    """Check a unit's tables against the database of the active `checking_geography`, if any."""
    ctx = _CHECK_CONTEXT.get()
    if ctx is not None:
        check_unit_now(ctx, unit)


# units -----------------------------------------------------------------------------------------------------


class MappedAdminSpatialUnit(AdminSpatialUnit):
    """`admin<level>` whose cells are placed by a mapping table (`id`, `admin<level>pcod`)."""

    def __init__(self, level: int, mapping_table: str) -> None:
        parse_table(mapping_table, "mapping_table")
        self.mapping_table = mapping_table
        super().__init__(level)

    def check(self, ctx: Context) -> None:
        table = parse_table(self.mapping_table, "mapping_table")
        region = f"admin{self.level}pcod"
        _require_columns(ctx, table, ["id", region], "mapping_table")
        _require_single_valued(ctx, table, "id", region, "mapping_table")

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            """SELECT DISTINCT ON (c.cell_id)
                   c.id AS location_id, c.date_of_first_service, c.date_of_last_service,
                   m.{region}::text AS pcod
               FROM infrastructure.cells c
               JOIN {mapping} m ON m.id::text = c.id
               WHERE m.{region} IS NOT NULL
               ORDER BY c.cell_id, m.{region}::text"""
        ).format(
            region=sql.Identifier(f"admin{self.level}pcod"),
            mapping=sql.Identifier(*parse_table(self.mapping_table, "mapping_table")),
        )


class MappedLonLatSpatialUnit(LonLatSpatialUnit):
    """`lon-lat` with the points (`geom_point`) of a geom table, joined on `geom_table_join_column` to the cell
    id, or to the value a mapping table (`id`, <join column>) gives the cell."""

    def __init__(
        self, geom_table: str, geom_table_join_column: str, mapping_table: str | None = None
    ) -> None:
        parse_table(geom_table, "geom_table")
        _check_column(geom_table_join_column, "geom_table_join_column")
        if mapping_table is not None:
            parse_table(mapping_table, "mapping_table")
        self.geom_table = geom_table
        self.geom_table_join_column = geom_table_join_column
        self.mapping_table = mapping_table
        super().__init__()

    def check(self, ctx: Context) -> None:
        key = self.geom_table_join_column
        geom = parse_table(self.geom_table, "geom_table")
        _require_columns(ctx, geom, [key, "geom_point"], "geom_table")
        _require_single_valued(ctx, geom, key, None, "geom_table")
        if self.mapping_table is not None:
            mapping = parse_table(self.mapping_table, "mapping_table")
            _require_columns(ctx, mapping, ["id", key], "mapping_table")
            _require_single_valued(ctx, mapping, "id", key, "mapping_table")

    def _make_query(self, ctx: Context) -> sql.Composable:
        key = sql.Identifier(self.geom_table_join_column)
        geom = sql.Identifier(*parse_table(self.geom_table, "geom_table"))
        if self.mapping_table is None:
            source = sql.SQL("JOIN {geom} g ON g.{key}::text = c.id").format(geom=geom, key=key)
        else:
            source = sql.SQL(
                "JOIN {mapping} m ON m.id::text = c.id JOIN {geom} g ON g.{key} = m.{key}"
            ).format(
                mapping=sql.Identifier(*parse_table(self.mapping_table, "mapping_table")),
                geom=geom,
                key=key,
            )
        return sql.SQL(
            """SELECT DISTINCT ON (c.cell_id)
                   c.id AS location_id, c.date_of_first_service, c.date_of_last_service,
                   ST_X(g.geom_point::geometry) AS lon, ST_Y(g.geom_point::geometry) AS lat
               FROM infrastructure.cells c {source}
               WHERE g.geom_point IS NOT NULL
               ORDER BY c.cell_id, g.{key}"""
        ).format(source=source, key=key)

    def geography_query(self, ctx: Context) -> sql.Composable:
        """Every point of the geom table (read by FlowAPI's role, which may read the allowed schemas)."""
        return sql.SQL(
            """SELECT DISTINCT ST_X(geom_point::geometry) AS lon, ST_Y(geom_point::geometry) AS lat,
                      geom_point::geometry AS geom
               FROM {} WHERE geom_point IS NOT NULL"""
        ).format(sql.Identifier(*parse_table(self.geom_table, "geom_table")))


def custom_unit(
    aggregation_unit: str,
    *,
    mapping_table: str | None = None,
    geom_table: str | None = None,
    geom_table_join_column: str | None = None,
) -> GeomSpatialUnit | None:
    """The unit of these API fields if they name custom geography (None for a plain built-in unit).

    FlowKit's two bugs are refused here instead of failing late or being ignored (docs/compatibility.md):
    `lon-lat` with a `geom_table` works without a mapping table (joined on the cell id), and a `mapping_table`
    for `lon-lat` without a `geom_table` is an error rather than silently ignored.
    """
    if is_polygon_unit_name(aggregation_unit):
        if mapping_table or geom_table or geom_table_join_column:
            raise InvalidSpecError(
                "mapping_table, geom_table and geom_table_join_column do not apply to polygon layers"
            )
        return PolygonLayerSpatialUnit(aggregation_unit[len(POLYGON_PREFIX) :])
    if mapping_table is None and geom_table is None and geom_table_join_column is None:
        return None
    if geom_table_join_column is not None and geom_table is None:
        raise InvalidSpecError("geom_table_join_column needs a geom_table")
    if aggregation_unit in ("admin0", "admin1", "admin2", "admin3"):
        if geom_table is not None:
            raise InvalidSpecError(
                "geom_table applies to lon-lat only; admin units take their geometry from geography"
            )
        assert mapping_table is not None
        return MappedAdminSpatialUnit(int(aggregation_unit[-1]), mapping_table)
    if aggregation_unit == "lon-lat":
        if geom_table is None:
            raise InvalidSpecError(
                "a mapping_table for lon-lat needs a geom_table (and geom_table_join_column) to take the "
                "points from"
            )
        if geom_table_join_column is None:
            raise InvalidSpecError("geom_table needs a geom_table_join_column")
        return MappedLonLatSpatialUnit(geom_table, geom_table_join_column, mapping_table)
    raise InvalidSpecError(
        f"mapping_table, geom_table and geom_table_join_column do not apply to {aggregation_unit}"
    )


def with_layer_units(components: dict[str, Any], layers: list[str]) -> dict[str, Any]:
    """The query schemas' OpenAPI components with `polygon-<layer>` added to every aggregation_unit enum
    listing the admin units (so FlowAPI publishes, and FlowAuth grants, scopes for each loaded layer)."""
    extra = [POLYGON_PREFIX + layer for layer in layers]
    if not extra:
        return components
    for schema in components.values():
        props = schema.get("properties") if isinstance(schema, dict) else None
        prop = props.get("aggregation_unit") if isinstance(props, dict) else None
        if (
            isinstance(prop, dict)
            and isinstance(prop.get("enum"), list)
            and "admin0" in prop["enum"]
        ):
            prop["enum"] = prop["enum"] + [u for u in extra if u not in prop["enum"]]
    return components


def check_unit_now(ctx: Context, unit: object) -> None:
    """Check a unit's tables or layer against `ctx`'s database (InvalidSpecError if missing)."""
    check = getattr(unit, "check", None)
    if callable(check):
        check(ctx)


def result_unit(query: Query, unit_name: str) -> GeomSpatialUnit | CellSpatialUnit:
    """The spatial unit a query result was computed with: the `GeomSpatialUnit` called `unit_name` among the
    query's dependencies (which carries its mapping or geom table), else the plain unit of that name."""
    seen: set[str] = set()
    todo = [query]
    while todo:
        current = todo.pop(0)
        if current.query_id in seen:
            continue
        seen.add(current.query_id)
        if isinstance(current, GeomSpatialUnit) and current.name == unit_name:
            return current
        todo.extend(current.dependencies)
    return make_spatial_unit(unit_name)
