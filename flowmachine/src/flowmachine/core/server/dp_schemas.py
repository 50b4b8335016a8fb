"""The query schemas a server in differential-privacy release mode accepts (FLOWMACHINE_RELEASE_MODE).

`root_schema(settings)` is FlowKit's `FlowmachineQuerySchema` in redaction mode (nothing changes). In
differential-privacy mode it is a root listing the count-type kinds (`DP_KINDS`), each with a required
`epsilon` (> 0, at most FLOWMACHINE_DP_MAX_EPSILON) that is part of the query's parameters and so of its query
id, and the kinds holding no subscriber data (`PUBLIC_KINDS`: geography); any other kind is refused at
validation, so nothing exact about subscribers leaves the server outside the privacy budget.
A `sampling` section anywhere in a spec is refused too (`SAMPLING_REFUSED`): a sample's membership depends on
other subscribers' rows, which would break the sensitivity the noise is calibrated to.
A DP kind's query object is the differentially private release (`flowmachine.core.dp.queries`) of the kind's
own aggregate.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from flowmachine.core.dp.queries import DPCounts, dp_release_of
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema
from flowmachine.core.server.query_schemas.limits import check_spec_size
from flowmachine.core.settings import Settings

# The kinds released with noise in differential-privacy mode; every other top-level kind is refused.
DP_KINDS = (
    "flows",
    "histogram_aggregate",
    "location_event_counts",
    "spatial_aggregate",
    "total_network_objects",
    "unique_subscriber_counts",
)
# Kinds that hold no subscriber data, served as in redaction mode: `geography` is the units' boundaries (its scopes
# also gate `/geography/<unit>` and a release's `.geojson`).
PUBLIC_KINDS = ("geography",)


class DPRelease:
    """Mixed into a kind's exposed query: its query object is the noisy release of the kind's aggregate."""

    epsilon: float
    dp_settings: ClassVar[Settings]

    @property
    def _flowmachine_query_obj(self) -> DPCounts:
        aggregate = super()._flowmachine_query_obj  # type: ignore[misc]  # the exposed kind's, next in the MRO
        return dp_release_of(aggregate, epsilon=self.epsilon, settings=self.dp_settings)


def _dp_rules(self: Schema, data: dict[str, Any], **kwargs: Any) -> None:
    """What differential privacy needs beyond the kind's own rules: keys that do not depend on the data."""
    kind = data.get("query_kind")
    if kind == "flows" and data.get("join_type", "inner") != "inner":
        raise ValidationError(
            "Differentially private flows count subscribers with both locations: join_type must be inner.",
            "join_type",
        )
    if kind == "histogram_aggregate" and "n_bins" in (data.get("bins") or {}):
        if data.get("range") is None:
            raise ValidationError(
                "A differentially private histogram with n_bins needs a range (bins from the data's "
                "minimum and maximum would depend on the data).",
                "range",
            )


SAMPLING_REFUSED = (
    "A differentially private release cannot be computed on a random sample: which subscribers a sample "
    "keeps depends on the other subscribers' rows (the row's page and position for system and bernoulli, "
    "a fixed size for random_ids, where one subscriber displaces another), so one subscriber could change "
    "more than the noise is calibrated to. Leave sampling out; the noise protects every count."
)


def _sampled(spec: Any) -> bool:
    """Whether a `sampling` section is given anywhere in `spec` (at any depth)."""
    if isinstance(spec, Mapping):
        return spec.get("sampling") is not None or any(_sampled(v) for v in spec.values())
    if isinstance(spec, list | tuple):
        return any(_sampled(v) for v in spec)
    return False


def _dp_variant(schema: type[Schema], settings: Settings) -> type[Schema]:
    """`schema` with a required `epsilon`, loading into the differentially private release of its kind."""
    model = schema.__model__  # type: ignore[attr-defined]
    dp_model = type(
        model.__name__, (DPRelease, model), {"dp_settings": settings, "__module__": __name__}
    )
    epsilon = fields.Float(
        required=True,
        allow_nan=False,
        validate=validate.Range(min=0, min_inclusive=False, max=settings.dp_max_epsilon),
        metadata={
            "description": "The privacy loss of this release (differential privacy); part of the query id."
        },
    )
    return type(
        schema.__name__,
        (schema,),
        {
            "__model__": dp_model,
            "__module__": __name__,
            "epsilon": epsilon,
            "_dp_rules": validates_schema(_dp_rules),
        },
    )


@lru_cache(maxsize=8)
def _dp_root(settings: Settings) -> type[FlowmachineQuerySchema]:
    every_kind = FlowmachineQuerySchema.schemas_by_kind()
    variants = {
        kind: _dp_variant(schema, settings)
        for kind, schema in every_kind.items()
        if kind in DP_KINDS
    }
    variants.update({kind: every_kind[kind] for kind in PUBLIC_KINDS if kind in every_kind})

    class DPQuerySchema(FlowmachineQuerySchema):
        @classmethod
        def schemas_by_kind(cls) -> dict[str, type[Schema]]:
            return dict(variants)

        def load(self, data: Any, **kwargs: Any) -> Any:
            check_spec_size(data)
            kind = data.get("query_kind") if isinstance(data, Mapping) else None
            if isinstance(kind, str) and kind not in variants and kind in every_kind:
                raise ValidationError(
                    {
                        "query_kind": [
                            "This server releases only differentially private query kinds "
                            f"({', '.join(DP_KINDS)}); {kind} is not one of them."
                        ]
                    }
                )
            if _sampled(data):
                raise ValidationError({"sampling": [SAMPLING_REFUSED]})
            return super().load(data, **kwargs)

    return DPQuerySchema


def root_schema(settings: Settings) -> type[FlowmachineQuerySchema]:
    """The schema every spec is loaded with: FlowKit's, or the differential-privacy root."""
    return _dp_root(settings) if settings.differential_privacy else FlowmachineQuerySchema
