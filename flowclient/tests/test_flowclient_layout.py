"""flowclient's layout: one-way imports, 1.34's names kept, and spec helpers generated from one table.

No server needed: these check the modules, the table in `flowclient.kinds` and what it publishes, and the specs
the helpers build (the server accepting them is `test_spec_helpers_accepted.py`).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pydoc
from pathlib import Path

import jwt
import pytest

import flowclient
from flowclient import aggregates, query_specs
from flowclient._spec_builders import Kind, Param, query_maker, spec_builder
from flowclient.kinds import KINDS

SRC = Path(flowclient.__file__).parent

# What flowclient had importable before the table, from each module, that the published 1.34 also has.
PUBLISHED_NAMES = {
    "flowclient.aggregates": """
        APIQuery Any active_at_reference_location_counts active_at_reference_location_counts_spec
        aggregate_network_objects aggregate_network_objects_spec calendar_activity
        calendar_activity_spec consecutive_trips_od_matrix consecutive_trips_od_matrix_spec flows
        flows_spec histogram_aggregate histogram_aggregate_spec inflows inflows_spec
        joined_spatial_aggregate joined_spatial_aggregate_spec labelled_flows labelled_flows_spec
        labelled_spatial_aggregate labelled_spatial_aggregate_spec localised_calendar_activity
        localised_calendar_activity_spec location_event_counts location_event_counts_spec
        location_introversion location_introversion_spec meaningful_locations_aggregate
        meaningful_locations_aggregate_spec meaningful_locations_between_dates_od_matrix
        meaningful_locations_between_dates_od_matrix_spec
        meaningful_locations_between_label_od_matrix
        meaningful_locations_between_label_od_matrix_spec outflows outflows_spec spatial_aggregate
        spatial_aggregate_spec total_network_objects total_network_objects_spec trips_od_matrix
        trips_od_matrix_spec unique_subscriber_counts unique_subscriber_counts_spec
        unmoving_at_reference_location_counts unmoving_at_reference_location_counts_spec
        unmoving_counts unmoving_counts_spec
    """.split(),
    "flowclient.api_query": """
        APIQuery Connection get_geojson_result_by_query_id get_result_by_query_id get_status
        run_query wait_for_query_to_be_ready
    """.split(),
    "flowclient.async_api_query": """
        APIQuery ASyncAPIQuery ASyncConnection get_geojson_result_by_query_id get_result_by_query_id
        get_status run_query wait_for_query_to_be_ready
    """.split(),
    "flowclient.async_client": """
        ASyncConnection connect_async datetime get_available_dates get_available_qa_checks
        get_available_qa_checks_df get_geography get_geojson_result get_geojson_result_by_query_id
        get_json_dataframe get_qa_check_outcome get_qa_check_outcomes get_qa_check_outcomes_df
        get_result get_result_by_query_id get_result_location_from_id_when_ready get_status httpx
        logger pd query_is_ready run_query tqdm wait_for_query_to_be_ready
    """.split(),
    "flowclient.async_connection": """
        ASyncConnection httpx warnings
    """.split(),
    "flowclient.client": """
        Connection connect datetime get_available_dates get_available_qa_checks
        get_available_qa_checks_df get_geography get_geojson_result get_geojson_result_by_query_id
        get_json_dataframe get_qa_check_outcome get_qa_check_outcomes get_qa_check_outcomes_df
        get_result get_result_by_query_id get_result_location_from_id_when_ready get_status httpx
        logger pd query_is_ready run_query time tqdm wait_for_query_to_be_ready
    """.split(),
    "flowclient.connection": """
        Connection httpx warnings
    """.split(),
    "flowclient.errors": """
        FlowclientConnectionError
    """.split(),
    "flowclient.query_specs": """
        Any coalesced_location_spec daily_location_spec displacement_spec event_count_spec
        handset_spec location_visits_spec majority_location_spec mobility_classification_spec
        modal_location_from_dates_spec modal_location_spec most_frequent_location_spec
        nocturnal_events_spec pareto_interactions_spec pd radius_of_gyration_spec random_sample_spec
        subscriber_degree_spec topup_amount_spec topup_balance_spec total_active_periods_spec
        unique_location_counts_spec unique_locations_spec
    """.split(),
    "flowclient": """
        APIQuery ASyncAPIQuery ASyncConnection Connection active_at_reference_location_counts
        aggregate_network_objects aggregates api_query async_api_query async_client async_connection
        calendar_activity client coalesced_location_spec connect connect_async connection
        consecutive_trips_od_matrix daily_location_spec displacement_spec errors event_count_spec
        flows get_available_dates get_available_qa_checks get_available_qa_checks_df get_geography
        get_geojson_result get_qa_check_outcome get_qa_check_outcomes get_qa_check_outcomes_df
        get_result get_result_by_query_id get_status handset_spec histogram_aggregate inflows
        joined_spatial_aggregate labelled_flows labelled_spatial_aggregate
        localised_calendar_activity location_event_counts location_introversion location_visits_spec
        majority_location_spec meaningful_locations_aggregate
        meaningful_locations_between_dates_od_matrix meaningful_locations_between_label_od_matrix
        mobility_classification_spec modal_location_from_dates_spec modal_location_spec
        most_frequent_location_spec nocturnal_events_spec outflows pareto_interactions_spec
        query_is_ready query_specs radius_of_gyration_spec random_sample_spec run_query
        spatial_aggregate subscriber_degree_spec topup_amount_spec topup_balance_spec
        total_active_periods_spec total_network_objects trips_od_matrix unique_location_counts_spec
        unique_locations_spec unique_subscriber_counts unmoving_at_reference_location_counts
        unmoving_counts
    """.split(),
}


def _module_name(path: Path) -> str:
    return "flowclient" if path.stem == "__init__" else f"flowclient.{path.stem}"


def _imports() -> dict[str, set[str]]:
    """Each flowclient module → the flowclient modules it imports (anywhere in it, type-checking ones too)."""
    modules = {_module_name(path): path for path in SRC.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:  # `from flowclient import _http` imports flowclient._http
                    submodule = f"{node.module}.{alias.name}"
                    targets.add(submodule if submodule in modules else node.module)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def test_flowclient_modules_import_one_way() -> None:
    graph = _imports()
    order: list[str] = []
    visiting: list[str] = []

    def visit(module: str) -> None:
        if module in order:
            return
        assert module not in visiting, f"import cycle: {' -> '.join([*visiting, module])}"
        visiting.append(module)
        for target in sorted(graph[module]):
            visit(target)
        visiting.pop()
        order.append(module)

    for module in sorted(graph):
        visit(module)
    # the query classes sit below the connections that build them
    assert order.index("flowclient._query") < order.index("flowclient.connection")
    assert order.index("flowclient._async_query") < order.index("flowclient.async_connection")


def test_no_function_local_or_type_checking_imports() -> None:
    for path in SRC.glob("*.py"):
        tree = ast.parse(path.read_text())
        top = {id(node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)}
        nested = [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top
        ]
        assert not nested, f"{path.name}: imports not at module level, lines {nested}"


@pytest.mark.parametrize("module", sorted(PUBLISHED_NAMES))
def test_names_flowclient_1_34_has_stay_importable(module: str) -> None:
    imported = importlib.import_module(module)
    missing = [name for name in PUBLISHED_NAMES[module] if not hasattr(imported, name)]
    assert not missing


def test_classes_keep_their_public_home() -> None:
    assert flowclient.APIQuery.__module__ == "flowclient.api_query"
    assert flowclient.ASyncAPIQuery.__module__ == "flowclient.async_api_query"
    assert flowclient.run_query.__module__ == "flowclient.client"
    assert "run_query" in pydoc.render_doc(flowclient.client, renderer=pydoc.plaintext)


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_every_table_entry_is_published_with_a_real_signature(kind: Kind) -> None:
    builder_name = f"{kind.name}_spec"
    home = aggregates if kind.top_level else query_specs
    builder = getattr(home, builder_name)
    assert builder.__name__ == builder_name and builder.__module__ == home.__name__
    params = list(inspect.signature(builder).parameters.values())
    assert [(p.name, p.default) for p in params] == [(p.name, p.default) for p in kind.params]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    doc = pydoc.render_doc(builder, renderer=pydoc.plaintext)
    assert all(f"{p.name} : {p.annotation}" in doc for p in kind.params)
    if kind.top_level:
        maker = getattr(aggregates, kind.name)
        assert getattr(flowclient, kind.name) is maker and maker.__name__ == kind.name
        assert list(inspect.signature(maker).parameters) == [
            "connection",
            *(p.name for p in params),
        ]
        assert not hasattr(flowclient, builder_name)  # as 1.34: aggregates' builders stay there
    else:
        assert getattr(flowclient, builder_name) is builder


def test_builders_refuse_arguments_as_functions_do() -> None:
    with pytest.raises(TypeError, match="missing a required argument: 'method'"):
        flowclient.daily_location_spec(date="2016-01-01", aggregation_unit="admin3")
    with pytest.raises(TypeError, match="unexpected keyword argument 'dates'"):
        aggregates.flows_spec(from_location={}, to_location={}, dates=[])
    with pytest.raises(TypeError):
        flowclient.modal_location_spec([])


def test_a_new_entry_renames_converts_and_omits_as_declared() -> None:
    kind = Kind(
        "counted_thing",
        "A made-up kind.",
        (
            Param("when", "str", key="date"),
            Param("hours", "tuple[int, int] | None", None, convert=lambda h: list(h or ())),
            Param("epsilon", "float | None", None, omit_if_none=True),
        ),
        top_level=True,
    )
    build = spec_builder(kind, "somewhere")
    assert build(when="2016-01-01") == {
        "query_kind": "counted_thing",
        "date": "2016-01-01",
        "hours": [],
    }
    assert build(when="d", hours=(1, 2), epsilon=0.5)["epsilon"] == 0.5
    maker = query_maker(kind, build, "somewhere")

    class Recorder:
        def make_api_query(self, parameters: dict) -> dict:
            return parameters

    assert maker(connection=Recorder(), when="d") == build(when="d")


DAY = dict(aggregation_unit="admin3", method="last")
HOURS = {"start_hour": 20, "end_hour": 4}


def test_specs_carry_the_converted_values() -> None:
    daily = flowclient.daily_location_spec(date="2016-01-01", hours=(20, 4), **DAY)
    assert daily == {
        "query_kind": "daily_location",
        "date": "2016-01-01",
        **DAY,
        "event_types": None,
        "subscriber_subset": None,
        "mapping_table": None,
        "geom_table": None,
        "geom_table_join_column": None,
        "hours": HOURS,
    }
    modal = flowclient.modal_location_from_dates_spec(
        start_date="2016-01-01", end_date="2016-01-03", hours=(20, 4), **DAY
    )
    assert modal == {
        "query_kind": "modal_location",
        "locations": [
            {**daily, "date": "2016-01-01"},
            {**daily, "date": "2016-01-02"},
        ],
    }
    counts = aggregates.location_event_counts_spec(
        start_date="a", end_date="b", aggregation_unit="admin1", count_interval="hour"
    )
    assert counts["interval"] == "hour" and "count_interval" not in counts
    assert counts["direction"] == "both" and "epsilon" not in counts
    night = flowclient.nocturnal_events_spec(start_date="a", end_date="b", hours=(20, 4))
    assert night["night_hours"] == HOURS and "hours" not in night
    histogram = aggregates.histogram_aggregate_spec(metric={"m": 1}, bins=[0.0, 1.0])
    assert histogram == {
        "query_kind": "histogram_aggregate",
        "metric": {"m": 1},
        "bins": {"bin_list": [0.0, 1.0]},
    }
    ranged = aggregates.histogram_aggregate_spec(metric={}, bins=3, range=(0.0, 9.0))
    assert ranged["bins"] == {"n_bins": 3} and ranged["range"] == [0.0, 9.0]
    sample = flowclient.random_sample_spec(query=daily, seed=0.5, size=10)
    assert sample == {
        **daily,
        "sampling": {
            "seed": 0.5,
            "sampling_method": "random_ids",
            "size": 10,
            "fraction": None,
            "estimate_count": True,
        },
    }
    assert aggregates.unmoving_counts_spec(unique_locations={"u": 1}) == {
        "query_kind": "unmoving_counts",
        "locations": {"u": 1},
    }
    localised = aggregates.localised_calendar_activity_spec(
        start_date="a", total_periods=2, locations=daily
    )
    assert localised["reference_location"] == daily and "locations" not in localised
    assert (
        flowclient.visited_most_days_spec(start_date="a", end_date="b", aggregation_unit="x")[
            "query_kind"
        ]
        == "visited_most_days"
    )


def test_makers_give_the_query_of_their_connection() -> None:
    token = jwt.encode({"sub": "analyst"}, "a" * 32, algorithm="HS256")
    with pytest.warns(UserWarning):  # plain http
        sync = flowclient.Connection(url="http://127.0.0.1:9", token=token)
        asyn = flowclient.ASyncConnection(url="http://127.0.0.1:9", token=token)
    query = flowclient.spatial_aggregate(connection=sync, locations={"l": 1})
    assert type(query) is flowclient.APIQuery
    assert query.parameters == {"query_kind": "spatial_aggregate", "locations": {"l": 1}}
    assert repr(query).startswith("<flowclient.api_query.APIQuery object")
    assert type(flowclient.flows(connection=asyn, from_location={}, to_location={})) is (
        flowclient.ASyncAPIQuery
    )
    sync.close()
