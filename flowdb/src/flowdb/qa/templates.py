"""QA checks written as Jinja SQL templates, found and run as FlowETL does.

A check is a `.sql` template returning one value. In each directory of a search path, `qa_checks/*.sql` apply
to every CDR type and `qa_checks/<cdr_type>/*.sql` to that type only; a check is named after its file
(`count_nulls`), or `<stem>.<cdr_type>` for a type's own (`count_nulls.calls`). As in FlowETL, the search path
is the user's directories in order and then the default checks' directory (`DEFAULT_CHECKS_DIRECTORY`, FlowKit
1.34's defaults as one query each); a template found in an earlier directory hides one of the same relative
path in a later one, so a user can replace a default check. Templates may `{% include %}` one another.

Templates are rendered with FlowETL's macros (flowdb.qa.macros) in a sandboxed Jinja environment where an
undefined name is an error. The rendered SELECT is run as `SELECT (<check>)::text`, PostgreSQL's text for the
value, as FlowETL's `INSERT ... VALUES (..., (<check>), ...)` stores it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2
import psycopg
from jinja2.sandbox import SandboxedEnvironment
from psycopg import sql

from flowdb.qa.macros import check_cdr_type, etl_macros

DEFAULT_CHECKS_DIRECTORY = Path(__file__).parent / "default_checks"


@dataclass(frozen=True)
class QACheck:
    """A check template: its name, its path relative to the search directory it came from, and that directory."""

    name: str
    template: str
    directory: Path

    @property
    def is_default(self) -> bool:
        return self.directory == DEFAULT_CHECKS_DIRECTORY


def search_path(
    extra_directories: Iterable[str | Path] = (), *, defaults: bool = True
) -> list[Path]:
    """The user's directories in order, then (with `defaults`) the default checks' directory."""
    directories = [Path(d) for d in extra_directories]
    for d in directories:
        if not d.is_dir():
            raise ValueError(f"QA check directory {d} does not exist or is not a directory")
    return [*directories, *([DEFAULT_CHECKS_DIRECTORY] if defaults else [])]


def _environment(directories: list[Path]) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(d) for d in directories]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


def find_qa_checks(
    cdr_type: str, extra_directories: Iterable[str | Path] = (), *, defaults: bool = True
) -> list[QACheck]:
    """The checks that apply to `cdr_type`, sorted by template path: FlowETL's rule (a template whose path
    contains `qa_checks` and ends in `.sql`, directly inside a directory named `qa_checks` or `<cdr_type>`)."""
    check_cdr_type(cdr_type)
    directories = search_path(extra_directories, defaults=defaults)
    names = _environment(directories).list_templates(
        filter_func=lambda t: "qa_checks" in t and t.endswith(".sql")
    )
    checks: dict[str, QACheck] = {}
    for template in sorted(names):
        path = PurePosixPath(template)
        parent = path.parent.name
        if parent not in ("qa_checks", cdr_type):
            continue
        name = path.stem if parent == "qa_checks" else f"{path.stem}.{parent}"
        directory = next(d for d in directories if (d / template).is_file())
        if name in checks:
            raise ValueError(
                f"two QA checks are named {name!r}: {checks[name].directory / checks[name].template} "
                f"and {directory / template}"
            )
        checks[name] = QACheck(name, template, directory)
    return list(checks.values())


def render_qa_check(
    check: QACheck,
    cdr_type: str,
    day: dt.date,
    *,
    extra_directories: Iterable[str | Path] = (),
    extra_macros: Mapping[str, Any] | None = None,
    final_table: str | None = None,
) -> str:
    """The SQL of `check` for one day, rendered with FlowETL's macros (`extra_macros` added; `final_table`, a
    relation's SQL text from psycopg.sql, replaces the day partition's name)."""
    directories = search_path(extra_directories, defaults=True)
    if check.directory not in directories:
        directories.insert(0, check.directory)
    macros = etl_macros(cdr_type, day, extra_macros)
    if final_table is not None:
        macros["final_table"] = final_table
    try:
        return _environment(directories).get_template(check.template).render(**macros)
    except jinja2.TemplateError as exc:
        raise ValueError(
            f"QA check {check.name} ({check.template}) cannot be rendered: {exc}"
        ) from exc


def scalar_statement(check_sql: str) -> sql.Composed:
    """`SELECT (<check>)::text` for a rendered check (trailing semicolons dropped; the newlines keep a trailing
    comment from hiding the cast)."""
    body = check_sql.strip().rstrip(";").strip()
    if not body:
        raise ValueError("the QA check is empty")
    return sql.SQL("SELECT (\n{}\n)::text").format(sql.SQL(body))


def run_rendered_check(conn: psycopg.Connection, check_sql: str) -> str | None:
    """The outcome of one rendered check as text (None for SQL NULL). It must return at most one row of one
    column, or PostgreSQL raises an error; nothing is passed as parameters, so `%` needs no escaping."""
    row = conn.execute(scalar_statement(check_sql)).fetchone()
    return None if row is None else row[0]


def template_outcomes(
    conn: psycopg.Connection,
    cdr_type: str,
    day: dt.date,
    checks: Iterable[QACheck],
    *,
    extra_directories: Iterable[str | Path] = (),
    extra_macros: Mapping[str, Any] | None = None,
    table: sql.Identifier | None = None,
) -> tuple[dict[str, str | None], dict[str, str]]:
    """Run each check as its own query: ({name: outcome}, {name: error message}). Each check runs in its own
    transaction, or savepoint inside the caller's, so one that fails leaves the others and the caller's
    transaction unharmed; its error is reported, not raised (checks describe data, they never stop a load)."""
    final_table = None if table is None else table.as_string(conn)
    outcomes: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    for check in checks:
        try:
            rendered = render_qa_check(
                check,
                cdr_type,
                day,
                extra_directories=extra_directories,
                extra_macros=extra_macros,
                final_table=final_table,
            )
            with conn.transaction():
                outcomes[check.name] = run_rendered_check(conn, rendered)
        except ValueError as exc:
            errors[check.name] = str(exc)
        except psycopg.Error as exc:
            if conn.closed or conn.broken:  # the connection, not the check, failed
                raise
            errors[check.name] = exc.diag.message_primary or str(exc)
    return outcomes, errors


def flowkit_default_outcomes(
    conn: psycopg.Connection,
    cdr_type: str,
    day: dt.date,
    *,
    table: sql.Identifier | None = None,
) -> dict[str, str | None]:
    """FlowKit 1.34's default checks run as FlowETL runs them, one query each (for comparison and tests).
    Raises if a check fails."""
    checks = find_qa_checks(cdr_type)
    outcomes, errors = template_outcomes(conn, cdr_type, day, checks, table=table)
    if errors:
        raise RuntimeError(f"default QA checks failed: {errors}")
    return outcomes
