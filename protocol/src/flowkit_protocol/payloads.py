"""One typed payload per action: what its request's `params` hold and what its success reply's `payload`
holds. Each reply payload builds its dict (`as_payload`, key order as FlowKit sends it) and reads one back
(`from_payload`, never raising: a field of the wrong type reads as None, for the caller to refuse).

run_query and get_aggregation_unit take a query spec (a `dict`, validated by FlowMachine) as their params;
ping, get_available_queries, get_query_schemas, get_available_dates and list_qa_checks take none. The other
actions' params types read a request's params with `from_params` (ParamsError if they do not fit)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flowkit_protocol.actions import Action
from flowkit_protocol.envelope import Progress

QuerySpec = dict[str, Any]


def _str(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return value if isinstance(value, str) else None


def _positive_number(payload: dict[str, Any], key: str) -> float | None:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return float(value)


def _with_epsilon(payload: dict[str, Any], epsilon: float | None) -> dict[str, Any]:
    """A differentially private release names the epsilon it spends; redaction-mode replies stay FlowKit's."""
    if epsilon is not None:
        payload["epsilon"] = epsilon
    return payload


def _list(payload: dict[str, Any], key: str) -> list[Any] | None:
    value = payload.get(key)
    return value if isinstance(value, list) else None


# request params ------------------------------------------------------------------------------------------


class ParamsError(ValueError):
    """A request's params do not fit its action's params type. `param` names the param whose value is not a
    string (None when a param is missing or unexpected)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def _string_params(kind: str, names: tuple[str, ...], params: Mapping[str, Any]) -> list[str]:
    """The values of exactly the params `names`, in that order, each a string (ParamsError otherwise)."""
    unexpected = sorted(set(params) - set(names))
    if unexpected:
        raise ParamsError(f"{kind} takes no param {unexpected[0]!r}")
    missing = [name for name in names if name not in params]
    if missing:
        raise ParamsError(f"{kind} needs the param {missing[0]!r}")
    values = []
    for name in names:
        value = params[name]
        if not isinstance(value, str):
            raise ParamsError(f"{kind}'s param {name!r} must be a string", param=name)
        values.append(value)
    return values


@dataclass(frozen=True)
class QueryIdParams:
    """poll_query, get_query_kind, get_query_params, get_sql_for_query_result,
    get_geo_sql_for_query_result, cancel_query."""

    query_id: str

    def as_params(self) -> dict[str, Any]:
        return {"query_id": self.query_id}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> QueryIdParams:
        """Read a request's params (ParamsError if they are not exactly a string `query_id`)."""
        (query_id,) = _string_params(cls.__name__, ("query_id",), params)
        return cls(query_id)


@dataclass(frozen=True)
class GeographyParams:
    aggregation_unit: str

    def as_params(self) -> dict[str, Any]:
        return {"aggregation_unit": self.aggregation_unit}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> GeographyParams:
        """Read a request's params (ParamsError if they are not exactly a string `aggregation_unit`)."""
        (aggregation_unit,) = _string_params(cls.__name__, ("aggregation_unit",), params)
        return cls(aggregation_unit)


@dataclass(frozen=True)
class QaChecksParams:
    cdr_type: str
    check_type: str
    start_date: str
    end_date: str

    def as_params(self) -> dict[str, Any]:
        return {
            "cdr_type": self.cdr_type,
            "check_type": self.check_type,
            "start_date": self.start_date,
            "end_date": self.end_date,
        }

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> QaChecksParams:
        """Read a request's params (ParamsError if they are not exactly these four, each a string)."""
        names = ("cdr_type", "check_type", "start_date", "end_date")
        cdr_type, check_type, start_date, end_date = _string_params(cls.__name__, names, params)
        return cls(cdr_type, check_type, start_date, end_date)


# reply payloads ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AvailableQueries:
    available_queries: list[Any] | None

    def as_payload(self) -> dict[str, Any]:
        return {"available_queries": self.available_queries}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> AvailableQueries:
        return cls(_list(payload, "available_queries"))


@dataclass(frozen=True)
class QuerySchemas:
    query_schemas: dict[str, Any] | None

    def as_payload(self) -> dict[str, Any]:
        return {"query_schemas": self.query_schemas}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> QuerySchemas:
        value = payload.get("query_schemas")
        return cls(value if isinstance(value, dict) else None)


@dataclass(frozen=True)
class QueryRun:
    """run_query."""

    query_id: str | None
    progress: Progress = field(default_factory=Progress)

    def as_payload(self) -> dict[str, Any]:
        return {"query_id": self.query_id, "progress": self.progress.as_dict()}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> QueryRun:
        return cls(_str(payload, "query_id"), Progress.from_payload(payload))


@dataclass(frozen=True)
class QueryPoll:
    """poll_query."""

    query_id: str | None
    query_kind: Any
    query_state: str | None
    progress: Progress = field(default_factory=Progress)

    def as_payload(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            "query_kind": self.query_kind,
            "query_state": self.query_state,
            "progress": self.progress.as_dict(),
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> QueryPoll:
        return cls(
            _str(payload, "query_id"),
            payload.get("query_kind"),
            _str(payload, "query_state"),
            Progress.from_payload(payload),
        )


@dataclass(frozen=True)
class QueryKind:
    """get_query_kind."""

    query_id: str | None
    query_kind: Any

    def as_payload(self) -> dict[str, Any]:
        return {"query_id": self.query_id, "query_kind": self.query_kind}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> QueryKind:
        return cls(_str(payload, "query_id"), payload.get("query_kind"))


@dataclass(frozen=True)
class QueryParams:
    """get_query_params: the spec the query was run with."""

    query_id: str | None
    query_params: QuerySpec | None

    def as_payload(self) -> dict[str, Any]:
        return {"query_id": self.query_id, "query_params": self.query_params}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> QueryParams:
        spec = payload.get("query_params")
        return cls(_str(payload, "query_id"), spec if isinstance(spec, dict) else None)


@dataclass(frozen=True)
class ResultSql:
    """get_sql_for_query_result. `epsilon` is set only for a differentially private release (issue 21): the
    privacy loss FlowAPI charges to the caller's budget the first time it streams this query's result."""

    query_id: str | None
    query_state: str | None
    sql: str | None
    epsilon: float | None = None

    def as_payload(self) -> dict[str, Any]:
        return _with_epsilon(
            {"query_id": self.query_id, "query_state": self.query_state, "sql": self.sql},
            self.epsilon,
        )

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ResultSql:
        return cls(
            _str(payload, "query_id"),
            _str(payload, "query_state"),
            _str(payload, "sql"),
            _positive_number(payload, "epsilon"),
        )


@dataclass(frozen=True)
class GeoResultSql:
    """get_geo_sql_for_query_result: SQL giving GeoJSON features of the result."""

    query_id: str | None
    query_state: str | None
    aggregation_unit: str | None
    sql: str | None
    epsilon: float | None = None  # as ResultSql's

    def as_payload(self) -> dict[str, Any]:
        return _with_epsilon(
            {
                "query_id": self.query_id,
                "query_state": self.query_state,
                "aggregation_unit": self.aggregation_unit,
                "sql": self.sql,
            },
            self.epsilon,
        )

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> GeoResultSql:
        return cls(
            _str(payload, "query_id"),
            _str(payload, "query_state"),
            _str(payload, "aggregation_unit"),
            _str(payload, "sql"),
            _positive_number(payload, "epsilon"),
        )


@dataclass(frozen=True)
class GeographySql:
    """get_geography."""

    query_state: str | None
    sql: str | None

    def as_payload(self) -> dict[str, Any]:
        return {"query_state": self.query_state, "sql": self.sql}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> GeographySql:
        return cls(_str(payload, "query_state"), _str(payload, "sql"))


@dataclass(frozen=True)
class AvailableDates:
    """get_available_dates: the payload is the mapping itself, CDR type → ISO dates."""

    dates: dict[str, list[str]]

    def as_payload(self) -> dict[str, Any]:
        return dict(self.dates)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> AvailableDates:
        return cls(dict(payload))


@dataclass(frozen=True)
class AggregationUnit:
    """get_aggregation_unit: the spec's aggregation unit (None for a query without one)."""

    aggregation_unit: str | None

    def as_payload(self) -> dict[str, Any]:
        return {"aggregation_unit": self.aggregation_unit}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> AggregationUnit:
        return cls(_str(payload, "aggregation_unit"))


@dataclass(frozen=True)
class QaCheckList:
    """list_qa_checks: `{"cdr_type", "type_of_query_or_check"}` items."""

    available_qa_checks: list[Any] | None

    def as_payload(self) -> dict[str, Any]:
        return {"available_qa_checks": self.available_qa_checks}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> QaCheckList:
        return cls(_list(payload, "available_qa_checks"))


@dataclass(frozen=True)
class QaChecks:
    """get_qa_checks: `{"outcome", "cdr_date", "type_of_query_or_check"}` items."""

    qa_checks: list[Any] | None

    def as_payload(self) -> dict[str, Any]:
        return {"qa_checks": self.qa_checks}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> QaChecks:
        return cls(_list(payload, "qa_checks"))


@dataclass(frozen=True)
class Cancellation:
    """cancel_query."""

    query_id: str | None
    query_state: str | None
    cancelled: bool

    def as_payload(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            "query_state": self.query_state,
            "cancelled": self.cancelled,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Cancellation:
        return cls(
            _str(payload, "query_id"), _str(payload, "query_state"), bool(payload.get("cancelled"))
        )


@dataclass(frozen=True)
class NoPayload:
    """ping (its reply says "pong" in `msg`)."""

    def as_payload(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> NoPayload:
        return cls()


# Each action's params type (None: no params; QuerySpec: a query spec) and its success payload type.
ACTION_PAYLOADS: dict[Action, tuple[type | None, type]] = {
    Action.PING: (None, NoPayload),
    Action.GET_AVAILABLE_QUERIES: (None, AvailableQueries),
    Action.GET_QUERY_SCHEMAS: (None, QuerySchemas),
    Action.RUN_QUERY: (dict, QueryRun),
    Action.POLL_QUERY: (QueryIdParams, QueryPoll),
    Action.GET_QUERY_KIND: (QueryIdParams, QueryKind),
    Action.GET_QUERY_PARAMS: (QueryIdParams, QueryParams),
    Action.GET_SQL_FOR_QUERY_RESULT: (QueryIdParams, ResultSql),
    Action.GET_GEO_SQL_FOR_QUERY_RESULT: (QueryIdParams, GeoResultSql),
    Action.GET_GEOGRAPHY: (GeographyParams, GeographySql),
    Action.GET_AVAILABLE_DATES: (None, AvailableDates),
    Action.GET_AGGREGATION_UNIT: (dict, AggregationUnit),
    Action.LIST_QA_CHECKS: (None, QaCheckList),
    Action.GET_QA_CHECKS: (QaChecksParams, QaChecks),
    Action.CANCEL_QUERY: (QueryIdParams, Cancellation),
}
