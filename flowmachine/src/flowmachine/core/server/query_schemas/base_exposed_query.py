"""The base of every exposed query: it turns validated API parameters into a FlowMachine query object.

An exposed query's parameters are declared once, as the fields of the query schema naming it as `__model__`:
the base `__init__` accepts exactly those (keyword-only; required fields required, the others defaulting to the
field's `load_default`, or None) and keeps each as an attribute. A subclass may still write its own `__init__`,
as the seed's developer guide shows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from marshmallow import missing

from flowmachine.core.query import Query

if TYPE_CHECKING:
    from marshmallow import Schema

_REQUIRED = object()


class BaseExposedQuery(ABC):
    """Subclasses set `query_kind` and define `_flowmachine_query_obj`; their schema declares the parameters."""

    query_kind: ClassVar[str]
    # Set by BaseSchema on the class it names as `__model__` (the first schema naming it wins).
    __schema__: ClassVar[type[Schema] | None] = None

    def __init__(self, **params: Any) -> None:
        name = type(self).__name__
        declared = type(self).declared_params()
        unexpected = sorted(set(params) - set(declared))
        if unexpected:
            raise TypeError(f"{name}() got an unexpected keyword argument {unexpected[0]!r}")
        for param, default in declared.items():
            if param in params:
                value = params[param]
            elif default is _REQUIRED:
                raise TypeError(f"{name}() missing required keyword argument: {param!r}")
            else:
                value = default() if callable(default) else default
            setattr(self, param, value)

    if TYPE_CHECKING:
        # The parameters are set by `__init__` from the schema's fields (`setattr`), so a type checker cannot see
        # them: this tells it that an attribute it does not know is one of them, of whatever type its field
        # loads. Only for the type checker: at run time a missing attribute still raises AttributeError. A
        # subclass may declare a parameter's type as a class annotation (`sampling: dict[str, Any] | None`).
        def __getattr__(self, name: str) -> Any: ...

    @classmethod
    def declared_params(cls) -> dict[str, Any]:
        """Parameter name -> default (`_REQUIRED` if none): the loadable fields of the schema, bar query_kind."""
        schema = cls.__schema__
        if schema is None:
            raise TypeError(f"{cls.__name__} has no query schema declaring its parameters")
        params: dict[str, Any] = {}
        for field_name, field in schema._declared_fields.items():
            if field.dump_only or field_name == "query_kind":
                continue
            if field.required:
                default = _REQUIRED
            else:
                default = None if field.load_default is missing else field.load_default
            params[field.attribute or field_name] = default
        return params

    @property
    @abstractmethod
    def _flowmachine_query_obj(self) -> Query:
        """The FlowMachine query these parameters describe (redacted, for top-level kinds)."""

    @property
    def query_id(self) -> str:
        return self._flowmachine_query_obj.query_id
