"""A query kind is one module (issue 20): the schema declares the exposed query's parameters (no `__init__`),
`@register_kind` lists it (no hand-kept tuple), and the published spec keeps its order."""

from __future__ import annotations

import pytest
from marshmallow import fields, validate

from flowmachine.core.server.query_schemas import registry
from flowmachine.core.server.query_schemas.aggregation_unit import get_spatial_unit_obj
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.daily_location import DailyLocationExposed
from flowmachine.core.server.query_schemas.event_count import EventCountExposed
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema
from flowmachine.core.server.query_schemas.geography import GeographySchema
from flowmachine.core.server.query_schemas.reference_location import ReferenceLocationSchema
from flowmachine.core.server.query_schemas.registry import (
    REFERENCE_LOCATION,
    SPEC_ORDER,
    TOP_LEVEL,
    register_kind,
)
from flowmachine.features.location.geography import Geography


def test_exposed_query_takes_its_schemas_fields():
    exposed = DailyLocationExposed(date="2016-01-01", method="last", aggregation_unit="admin3")
    assert (exposed.date, exposed.method, exposed.aggregation_unit) == (
        "2016-01-01",
        "last",
        "admin3",
    )
    assert exposed.hours is None and exposed.sampling is None and exposed.mapping_table is None
    # an optional field's load_default is the default, as the removed __init__s had it
    assert EventCountExposed(start_date="2016-01-01", end_date="2016-01-02").direction == "both"


def test_exposed_query_refuses_missing_and_unknown_parameters():
    with pytest.raises(TypeError, match="missing required keyword argument: 'method'"):
        DailyLocationExposed(date="2016-01-01", aggregation_unit="admin3")
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        DailyLocationExposed(date="2016-01-01", method="last", aggregation_unit="admin3", colour=1)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_no_builtin_kind_copies_its_parameters_by_hand():
    FlowmachineQuerySchema.schemas_by_kind()  # imports every built-in kind
    models = {
        s.__model__
        for s in _subclasses(BaseSchema)
        if "__model__" in vars(s) and s.__module__.startswith(registry.__package__)
    }
    assert len(models) > 40
    for model in models:
        assert model.__init__ is BaseExposedQuery.__init__, model


def test_builtin_kinds_are_registered_in_published_order():
    for owner, group in (
        (FlowmachineQuerySchema, TOP_LEVEL),
        (ReferenceLocationSchema, REFERENCE_LOCATION),
    ):
        assert owner.query_schemas == ()  # nothing kept by hand
        assert tuple(owner.schemas_by_kind()) == SPEC_ORDER[group]


class _TinyExposed(BaseExposedQuery):
    query_kind = "tiny_geography"

    @property
    def _flowmachine_query_obj(self):
        return Geography(get_spatial_unit_obj(self.aggregation_unit))


class _TinySchema(BaseSchema):
    __model__ = _TinyExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    aggregation_unit = fields.String(required=True)


@pytest.fixture
def clean_registry(monkeypatch):
    FlowmachineQuerySchema.schemas_by_kind()  # built-in kinds register first, so they outlive the test
    for group, members in registry._registered.items():
        monkeypatch.setitem(registry._registered, group, list(members))


def test_a_registered_kind_is_exposed_after_the_published_ones(clean_registry):
    assert "tiny_geography" not in FlowmachineQuerySchema.schemas_by_kind()
    assert register_kind(TOP_LEVEL)(_TinySchema) is _TinySchema
    kinds = list(FlowmachineQuerySchema.schemas_by_kind())
    assert kinds == [*SPEC_ORDER[TOP_LEVEL], "tiny_geography"]
    loaded = FlowmachineQuerySchema().load(
        {"query_kind": "tiny_geography", "aggregation_unit": "admin2"}
    )
    assert isinstance(loaded, _TinyExposed) and loaded.aggregation_unit == "admin2"
    assert loaded.query_id == Geography(get_spatial_unit_obj("admin2")).query_id
    assert "tiny_geography" not in ReferenceLocationSchema.schemas_by_kind()


def test_registering_a_taken_kind_or_a_non_schema_fails(clean_registry):
    class Clash(GeographySchema):
        pass

    with pytest.raises(ValueError, match="'geography' is already registered"):
        register_kind(TOP_LEVEL)(Clash)
    with pytest.raises(TypeError, match="not a query schema"):
        register_kind(TOP_LEVEL)(int)
    with pytest.raises(ValueError, match="groups"):
        register_kind("flowmachine.nowhere")
