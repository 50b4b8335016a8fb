"""QA checks of loaded CDR days, FlowKit 1.34's (FlowETL's `qa_checks`): the same names, values and storage
(`etl.post_etl_queries`), for FlowETL and the synthetic generators alike.

    from flowdb.qa import run_qa_checks
    result = run_qa_checks(conn, "calls", datetime.date(2016, 1, 1), extra_directories=["dags"])

* flowdb.qa.combined: the default checks combined in one statement;
* flowdb.qa.templates: checks as Jinja SQL files (the user's, and the defaults one query each, as FlowETL runs
  them);
* flowdb.qa.macros: FlowETL's template macros;
* flowdb.qa.run: running a day's checks and recording the outcomes.
"""

from flowdb.qa.combined import day_table, default_check_names, default_outcomes
from flowdb.qa.macros import QA_CDR_TYPES, day_table_name, etl_macros
from flowdb.qa.run import QAResult, record_default_checks, run_qa_checks, store_outcomes
from flowdb.qa.templates import (
    DEFAULT_CHECKS_DIRECTORY,
    QACheck,
    find_qa_checks,
    flowkit_default_outcomes,
    render_qa_check,
    run_rendered_check,
    template_outcomes,
)

__all__ = [
    "DEFAULT_CHECKS_DIRECTORY",
    "QA_CDR_TYPES",
    "QACheck",
    "QAResult",
    "day_table",
    "day_table_name",
    "default_check_names",
    "default_outcomes",
    "etl_macros",
    "find_qa_checks",
    "flowkit_default_outcomes",
    "record_default_checks",
    "render_qa_check",
    "run_qa_checks",
    "run_rendered_check",
    "store_outcomes",
    "template_outcomes",
]
