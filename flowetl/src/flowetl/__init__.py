"""FlowETL: ingest one day of one CDR type from operator files or tables into FlowDB, FlowKit's way.

Each pipeline step is a plain function in its own module (sources, extract, attach, records), taking a
connection, the validated source config, the CDR type and the day; `flowetl.pipeline.load_day` runs them in
FlowKit's order. See docs/flowetl.md.
"""

__version__ = "0.1.0"
