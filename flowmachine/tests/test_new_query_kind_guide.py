"""The seed developer guide's "Exposing a new query kind", followed step by step on our code, then run through
the ZeroMQ server: run_query → poll until completed → get_sql_for_query_result → read the rows."""

from __future__ import annotations

import pytest
from marshmallow import fields, validate
from psycopg import sql

from flowmachine.core.query import Query
from flowmachine.core.random_sample import RandomSample
from flowmachine.core.server.query_schemas.aggregation_unit import AggregationUnitKind
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_query_with_sampling import (
    BaseExposedQueryWithSampling,
    BaseQueryWithSamplingSchema,
)
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.field_mixins import StartAndEndField
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema
from flowmachine.core.server.query_schemas.geography import GeographySchema


# The guide assumes a FlowMachine query class `MyQuery` already exists: a toy one, aggregate and free of
# subscriber data (so it needs no redaction): each location of a geography with a constant and a day count.
class MyQuery(Query):
    def __init__(self, *, start, stop, sub_query, other_param, non_exposed_param):
        self.start = start
        self.stop = stop
        self.sub_query = sub_query
        self.other_param = other_param
        self.non_exposed_param = non_exposed_param
        super().__init__()

    @property
    def column_names(self):
        return ["pcod", "other_param", "n_days"]

    def _make_query(self, ctx):
        return sql.SQL(
            "SELECT pcod, {param}::int AS other_param, ({stop}::date - {start}::date) AS n_days "
            "FROM ({sub}) s"
        ).format(
            param=sql.Literal(self.other_param),
            start=sql.Literal(self.start),
            stop=sql.Literal(self.stop),
            sub=self.sub_query.get_query(ctx),
        )


# 1. Define an "exposed query" class (without sampling) -------------------------------------------------------
class MyQueryExposed(BaseExposedQuery):
    query_kind = "my_query"

    def __init__(self, *, start_date, end_date, sub_query, other_param):
        self.start_date = start_date
        self.end_date = end_date
        self.sub_query = sub_query
        self.other_param = other_param

    @property
    def aggregation_unit(self):
        return self.sub_query.aggregation_unit

    @property
    def _flowmachine_query_obj(self):
        return MyQuery(
            start=self.start_date,
            stop=self.end_date,
            sub_query=self.sub_query._flowmachine_query_obj,
            other_param=self.other_param,
            non_exposed_param="default_value",
        )


# 2. Define a "query schema" class (without sampling) ---------------------------------------------------------
class MyQuerySchema(StartAndEndField, BaseSchema):
    __model__ = MyQueryExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    sub_query = fields.Nested(GeographySchema, required=True)
    other_param = fields.Integer(validate=validate.Range(0, 10), required=False, load_default=0)
    aggregation_unit = AggregationUnitKind(dump_only=True)


# The "with sampling" variants of steps 1 and 2 (an individual-level kind: never top-level, so only loaded).
class MySampledQueryExposed(BaseExposedQueryWithSampling):
    query_kind = "my_sampled_query"

    def __init__(self, *, start_date, end_date, sub_query, other_param, sampling=None):
        self.start_date = start_date
        self.end_date = end_date
        self.sub_query = sub_query
        self.other_param = other_param
        self.sampling = sampling

    @property
    def aggregation_unit(self):
        return self.sub_query.aggregation_unit

    @property
    def _unsampled_query_obj(self):
        return MyQuery(
            start=self.start_date,
            stop=self.end_date,
            sub_query=self.sub_query._flowmachine_query_obj,
            other_param=self.other_param,
            non_exposed_param="default_value",
        )


class MySampledQuerySchema(StartAndEndField, BaseQueryWithSamplingSchema):
    __model__ = MySampledQueryExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    sub_query = fields.Nested(GeographySchema, required=True)
    other_param = fields.Integer(validate=validate.Range(0, 10), required=False, load_default=0)
    aggregation_unit = AggregationUnitKind(dump_only=True)


SPEC = {
    "query_kind": "my_query",
    "start_date": "2016-01-01",
    "end_date": "2016-01-03",
    "sub_query": {"query_kind": "geography", "aggregation_unit": "admin2"},
    "other_param": 7,
}


# 3. Expose the query: add the schema to FlowmachineQuerySchema.query_schemas --------------------------------
@pytest.fixture
def exposed_my_query(monkeypatch):
    monkeypatch.setattr(
        FlowmachineQuerySchema,
        "query_schemas",
        (*FlowmachineQuerySchema.query_schemas, MyQuerySchema),
    )


def test_my_query_runs_through_the_server(exposed_my_query, zmq_client, ctx):
    kinds = zmq_client.request("get_available_queries")["payload"]["available_queries"]
    assert "my_query" in kinds
    schemas = zmq_client.request("get_query_schemas")["payload"]["query_schemas"]
    assert schemas["FlowmachineQuerySchema"]["discriminator"]["mapping"]["my_query"] == (
        "#/components/schemas/MyQuery"
    )
    assert schemas["MyQuery"]["properties"]["other_param"]["default"] == 0
    assert schemas["MyQuery"]["properties"]["aggregation_unit"]["readOnly"] is True

    assert zmq_client.request("get_aggregation_unit", **SPEC)["payload"] == {
        "aggregation_unit": "admin2"
    }
    reply = zmq_client.request("run_query", **SPEC)
    assert reply["status"] == "success", reply
    query_id = reply["payload"]["query_id"]
    assert zmq_client.wait_for(query_id)["payload"]["query_state"] == "completed"
    sql_text = zmq_client.request("get_sql_for_query_result", query_id=query_id)["payload"]["sql"]
    with ctx.pool.connection() as conn:
        got = conn.execute(sql_text).fetchall()
    assert len(got) == 4  # the fixture's admin2 quadrants
    assert {row[1:] for row in got} == {(7, 2)}


def test_my_query_validation_through_the_server(exposed_my_query, zmq_client):
    reply = zmq_client.request("run_query", **{**SPEC, "other_param": 11})
    assert reply["status"] == "error"
    assert "other_param" in reply["payload"]["validation_error_messages"]


def test_unexposed_kind_is_refused(zmq_client):
    reply = zmq_client.request("run_query", **SPEC)
    assert reply["status"] == "error"
    assert "query_kind" in reply["payload"]["validation_error_messages"]


def test_sampling_variant_wraps_the_query():
    spec = {
        **SPEC,
        "query_kind": "my_sampled_query",
        "sampling": {"sampling_method": "random_ids", "seed": 0.5, "size": 2},
    }
    exposed = MySampledQuerySchema().load(spec)
    assert isinstance(exposed._flowmachine_query_obj, RandomSample)
    assert isinstance(exposed._unsampled_query_obj, MyQuery)
    assert exposed.aggregation_unit == "admin2"
