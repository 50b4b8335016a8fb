"""Spec helpers made from declarative entries: the machinery behind the table in `flowclient.kinds`.

A `Kind` lists its parameters once. Each `Param` is the helper's keyword (name, annotation, default, a line of
documentation) and how its value reaches the spec: the key it is sent under (`key`, when it is not the name), a
converter (`convert`), and whether a None is left out (`omit_if_none`). From a `Kind`, `spec_builder` makes the
`<name>_spec(**params)` function returning the spec dict and, for a top-level kind, `query_maker` makes
`<name>(connection=..., **params)` returning an `APIQuery` (an `ASyncAPIQuery` on an `ASyncConnection`). Both are
real functions: keyword-only signature with defaults, a docstring listing the parameters, their own `__name__`
and `__module__` (the module that publishes them).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

Spec = dict[str, Any]

REQUIRED: Any = inspect.Parameter.empty
"""The default of a parameter the caller must give."""


@dataclass(frozen=True)
class Param:
    """One keyword of a spec helper and how its value goes into the spec."""

    name: str
    annotation: str
    default: Any = REQUIRED
    doc: str = ""
    key: str | None = None
    convert: Callable[[Any], Any] | None = None
    omit_if_none: bool = False

    @property
    def spec_key(self) -> str:
        """The key the value is sent under."""
        return self.key or self.name

    def sent_as(self, key: str) -> Param:
        """The same parameter, sent under `key`."""
        return replace(self, key=key)

    def parameter(self) -> inspect.Parameter:
        return inspect.Parameter(
            self.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=self.default,
            annotation=self.annotation,
        )

    def describe(self) -> str:
        """The parameter's entry in a numpy-style "Parameters" section."""
        shown = f"{self.name} : {self.annotation}"
        if self.default is not REQUIRED:
            shown += f", default {self.default!r}"
        return f"{shown}\n    {self.doc}" if self.doc else shown


def query_kind_spec(kind: Kind, arguments: dict[str, Any]) -> Spec:
    """The usual shape: `{"query_kind": ..., <each parameter's key>: <its converted value>, ...}`."""
    return {"query_kind": kind.query_kind, **kind.fields(arguments)}


@dataclass(frozen=True)
class Kind:
    """One entry of the table: a query kind's helper.

    Attributes:
        name: the helper is `<name>_spec` (and `<name>` for a top-level kind).
        doc: the helper's summary line(s).
        params: its keyword-only parameters, in order.
        top_level: an aggregate, published in `flowclient.aggregates` with an APIQuery maker; otherwise a
            nested (individual-level) spec, published in `flowclient.query_specs`.
        spec_kind: the `query_kind` sent, when it is not `name`.
        assemble: builds the spec from the bound arguments (default: `query_kind_spec`); for the few helpers
            whose spec is not one flat dict.
    """

    name: str
    doc: str
    params: tuple[Param, ...]
    top_level: bool = False
    spec_kind: str | None = None
    assemble: Callable[[Kind, dict[str, Any]], Spec] = query_kind_spec

    @property
    def query_kind(self) -> str:
        return self.spec_kind or self.name

    def signature(self, return_annotation: str = "Spec") -> inspect.Signature:
        return inspect.Signature(
            [param.parameter() for param in self.params], return_annotation=return_annotation
        )

    def fields(self, arguments: dict[str, Any]) -> Spec:
        """Each parameter's value under its key, converted; None left out where the parameter says so."""
        fields: Spec = {}
        for param in self.params:
            value = arguments[param.name]
            if value is None and param.omit_if_none:
                continue
            fields[param.spec_key] = value if param.convert is None else param.convert(value)
        return fields

    def spec(self, **kwargs: Any) -> Spec:
        """The spec for these keyword arguments (TypeError for a missing or unknown one, as a function)."""
        try:
            bound = self.signature().bind(**kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.name}_spec(): {exc}") from None
        bound.apply_defaults()
        return self.assemble(self, dict(bound.arguments))


def _docstring(summary: str, params: Iterable[Param], returns: str) -> str:
    described = "\n".join(param.describe() for param in params)
    return (
        f"{inspect.cleandoc(summary)}\n\nParameters\n----------\n{described}\n\n"
        f"Returns\n-------\n{returns}\n"
    )


def spec_builder(kind: Kind, module: str) -> Callable[..., Spec]:
    """The function `<kind.name>_spec(**params)` returning the kind's spec dict."""

    def build(**kwargs: Any) -> Spec:
        return kind.spec(**kwargs)

    signature = kind.signature()
    where = "a top-level query" if kind.top_level else "a nested query, not a result on its own"
    _name(build, f"{kind.name}_spec", module, signature)
    build.__doc__ = _docstring(
        kind.doc,
        kind.params,
        f"dict\n    The query spec ({where}; `query_kind` {kind.query_kind!r}).",
    )
    return build


def query_maker(kind: Kind, builder: Callable[..., Spec], module: str) -> Callable[..., Any]:
    """The function `<kind.name>(connection=..., **params)`: an APIQuery for the spec, not yet run."""

    def make(*, connection: Any, **kwargs: Any) -> Any:
        return connection.make_api_query(parameters=builder(**kwargs))

    connection = Param(
        "connection",
        "Connection | ASyncConnection",
        doc="The server to run the query on (an ASyncConnection gives an ASyncAPIQuery).",
    )
    signature = kind.signature("APIQuery")
    signature = signature.replace(
        parameters=[connection.parameter(), *signature.parameters.values()]
    )
    _name(make, kind.name, module, signature)
    make.__doc__ = _docstring(
        f"{kind.doc}\n\nAn APIQuery for `{builder.__name__}(**params)` on `connection`, not yet run.",
        (connection, *kind.params),
        "APIQuery\n    Call `run()`, `status`, `get_result()` on it (await them for an ASyncAPIQuery).",
    )
    return make


def _name(function: Callable[..., Any], name: str, module: str, sig: inspect.Signature) -> None:
    function.__name__ = function.__qualname__ = name
    function.__module__ = module
    # Functions take any attribute; `inspect.signature` (so `help()`, editors and IPython) reads this one.
    function.__signature__ = sig  # type: ignore[attr-defined]
    function.__annotations__ = {
        **{p.name: p.annotation for p in sig.parameters.values()},
        "return": sig.return_annotation,
    }


def spec_builders(kinds: Iterable[Kind], *, top_level: bool, module: str) -> dict[str, Callable]:
    """`{"<name>_spec": builder}` for the top-level (or the nested) kinds, published by `module`."""
    return {
        f"{kind.name}_spec": spec_builder(kind, module)
        for kind in kinds
        if kind.top_level is top_level
    }


def query_makers(
    kinds: Iterable[Kind], builders: dict[str, Callable[..., Spec]], module: str
) -> dict[str, Callable]:
    """`{"<name>": maker}` for the top-level kinds, each wrapping its builder from `builders`."""
    return {
        kind.name: query_maker(kind, builders[f"{kind.name}_spec"], module)
        for kind in kinds
        if kind.top_level
    }
