"""The columns of FlowDB's event tables `events.<cdr_type>`, in table order (migration 0001, FlowKit's DDL): the one
list that loaders (FlowETL), the QA checks and the synthetic data take column identifiers from."""

from __future__ import annotations

CDR_TYPES = ("calls", "sms", "mds", "topups")
_COMMON_TAIL = ("location_id", "imsi", "imei", "tac", "operator_code", "country_code")
EVENTS_COLUMNS: dict[str, tuple[str, ...]] = {
    "calls": ("id", "outgoing", "datetime", "duration", "network", "msisdn", "msisdn_counterpart")
    + _COMMON_TAIL,
    "sms": ("id", "outgoing", "datetime", "network", "msisdn", "msisdn_counterpart") + _COMMON_TAIL,
    "mds": (
        "id",
        "datetime",
        "duration",
        "volume_total",
        "volume_upload",
        "volume_download",
        "msisdn",
    )
    + _COMMON_TAIL,
    "topups": (
        "id",
        "datetime",
        "type",
        "recharge_amount",
        "airtime_fee",
        "tax_and_fee",
        "pre_event_balance",
        "post_event_balance",
        "msisdn",
    )
    + _COMMON_TAIL,
}
