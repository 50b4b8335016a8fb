"""The base of every exposed query: it turns validated API parameters into a FlowMachine query object."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from flowmachine.core.query import Query


class BaseExposedQuery(ABC):
    """Subclasses set `query_kind`, keep their parameters as attributes and define `_flowmachine_query_obj`."""

    query_kind: ClassVar[str]

    @property
    @abstractmethod
    def _flowmachine_query_obj(self) -> Query:
        """The FlowMachine query these parameters describe (redacted, for top-level kinds)."""

    @property
    def query_id(self) -> str:
        return self._flowmachine_query_obj.query_id
