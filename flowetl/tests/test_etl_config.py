"""The configuration file: defaults, FlowKit's macros, and one clear message per mistake naming its path."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from flowetl.config import load_config, parse_config
from flowetl.errors import ConfigError
from flowetl.macros import macros
from flowetl.sources import file_path


def test_macros_are_flowkits() -> None:
    m = macros("calls", dt.date(2016, 1, 8))
    assert m["ds"] == "2016-01-08" and m["ds_nodash"] == "20160108"
    assert m["tomorrow_ds"] == "2016-01-09" and m["tomorrow_ds_nodash"] == "20160109"
    assert m["table_name"] == "calls_20160108"
    assert m["extract_table"] == "etl.extract_calls_20160108"
    assert m["staging_table"] == "etl.stg_calls_20160108"
    assert m["final_table"] == "events.calls_20160108"
    assert m["parent_table"] == "events.calls"
    assert m["params"]["cdr_type"] == "calls"


def test_a_file_source_with_defaults(tmp_path: Path) -> None:
    (tmp_path / "extract.sql").write_text("SELECT * FROM {{ staging_table }}")
    (tmp_path / "etl.yml").write_text(
        """
cdr_types:
  mds:
    source:
      file:
        path: /landing/{{ cdr_type }}_{{ ds_nodash }}.csv.gz
        fields: {msisdn: text, when: timestamp with time zone, vol: "numeric(10, 2)"}
    extract_sql: extract.sql
"""
    )
    config = load_config(tmp_path / "etl.yml").source("mds")
    assert config.source.format == "csv.gz"
    assert config.source.fields == (
        ("msisdn", "TEXT"),
        ("when", "TIMESTAMPTZ"),
        ("vol", "NUMERIC(10,2)"),
    )
    assert config.extract_sql == "SELECT * FROM {{ staging_table }}"
    # FlowKit's default indexes, less msisdn_counterpart which mds has not
    assert config.indexes == ("location_id", "datetime", "tac")
    assert config.source.header is True and config.source.delimiter == ","
    assert file_path(config, dt.date(2016, 1, 8)) == Path("/landing/mds_20160108.csv.gz")
    assert not config.direct_copy


def test_every_mistake_is_named_by_its_path() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            {
                "cdr_types": {
                    "calls": {
                        "source": {
                            "file": {
                                "path": "/x/{{ no_such_macro }}.csv",
                                "fields": {"msisdn": "TEXT", "datetime": "jsonb"},
                                "delimiter": ";;",
                                "colour": "red",
                            }
                        },
                        "indexes": ["volume_total"],
                        "flux_check": {"wait_interval": -1},
                    },
                    "voice": {},
                }
            }
        )
    message = str(info.value)
    for expected in (
        "cdr_types.voice: unknown key",
        "cdr_types.calls.source.file.colour: unknown key",
        "cdr_types.calls.source.file.delimiter: must be a single one-byte character",
        "cdr_types.calls.source.file.fields.datetime: unsupported type 'jsonb'",
        "cdr_types.calls.indexes[0]: 'volume_total' is not a column of events.calls",
        "cdr_types.calls.flux_check.wait_interval: must be a number of seconds",
        "cdr_types.calls.source.file.path: cannot render template",
    ):
        assert expected in message, message


def test_fields_that_are_not_events_columns_need_a_mapping() -> None:
    spec = {
        "source": {
            "file": {"path": "/x.csv", "fields": {"msisdn": "TEXT", "event_time": "TIMESTAMPTZ"}}
        }
    }
    with pytest.raises(ConfigError, match=r"cdr_types.sms.source.file.fields: \['event_time'\]"):
        parse_config({"cdr_types": {"sms": spec}})
    config = parse_config(
        {"cdr_types": {"sms": {**spec, "columns": {"msisdn": "msisdn", "datetime": "event_time"}}}}
    ).source("sms")
    assert config.columns == (("msisdn", "msisdn"), ("datetime", "event_time"))
    with pytest.raises(
        ConfigError, match=r"cdr_types.sms.columns.datetime: 'when' is not one of the fields"
    ):
        parse_config(
            {"cdr_types": {"sms": {**spec, "columns": {"msisdn": "msisdn", "datetime": "when"}}}}
        )


def test_a_table_source_needs_its_staging_sql() -> None:
    with pytest.raises(
        ConfigError, match=r"cdr_types.topups.source.table.staging_view_sql: is required"
    ):
        parse_config({"cdr_types": {"topups": {"source": {"table": {"source_table": "public.t"}}}}})
    with pytest.raises(
        ConfigError, match=r"cdr_types.topups.source.table.source_table: is required"
    ):
        parse_config(
            {
                "cdr_types": {
                    "topups": {
                        "source": {
                            "table": {"source_table": "x; drop", "staging_view_sql": "SELECT 1"}
                        }
                    }
                }
            }
        )


def test_cli_check_config_reports_mistakes_with_exit_code_2(tmp_path: Path, capsys) -> None:
    from flowetl.cli import main

    good = tmp_path / "good.yml"
    good.write_text(
        "cdr_types:\n  calls:\n    source:\n      file:\n        path: /x/{{ ds_nodash }}.csv\n"
        "        fields: {msisdn: TEXT, datetime: TIMESTAMPTZ}\n        encoding: utf-8\n"
    )
    assert main(["check-config", "--config", str(good)]) == 0
    assert load_config(good).source("calls").source.encoding == "UTF8"
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "cdr_types:\n  calls:\n    source: {file: {path: /x.csv, fields: {msisdn: TEXT}}}\n"
    )
    assert main(["check-config", "--config", str(bad)]) == 2
    assert "cdr_types.calls.source.file.fields: must include 'datetime'" in capsys.readouterr().err
