"""SQL migrations, applied in version order by flowdb.migrate."""
