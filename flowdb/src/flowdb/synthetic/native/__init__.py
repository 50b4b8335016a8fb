"""The SQL generator's native path: `flowdb_synthetic.c`, a PostgreSQL function written in C.

It makes the same rows as the generator's SQL expressions (tested row for row) and writes them the way COPY
does, about twice as fast. The server loads it from a shared library, found in this order:

1. `FLOWDB_SYNTHETIC_LIBRARY`: a library built beforehand (FlowDB's image builds one);
2. `<FLOWDB_DATA_DIR>/lib/`: built there on first use, when the cluster is local and a C compiler and
   PostgreSQL's server headers (Debian: postgresql-server-dev-15) are installed;
3. none: the generator computes the same rows with SQL expressions instead, and says so.

A build is named by a hash of the source and the server's version, so a changed source never overwrites a
library a running server may have loaded.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flowdb.errors import FlowDBError

SOURCE = Path(__file__).with_name("flowdb_synthetic.c")
NAME = "flowdb_synthetic"


@dataclass(frozen=True)
class NativeLibrary:
    """The library to load (None: use the SQL expressions) and how it was found, for the user."""

    path: Path | None
    note: str


def _pg_config(pg_config: Path, option: str) -> str:
    result = subprocess.run(
        [str(pg_config), option], capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout.strip()


def build(directory: Path, pg_config: Path) -> Path:
    """Compile the function for the server `pg_config` describes into `directory` (created readable by all, so
    a server running as another user can load it); return the library. A build already there is reused."""
    try:
        version = _pg_config(pg_config, "--version")
        include = _pg_config(pg_config, "--includedir-server")
        flags = shlex.split(_pg_config(pg_config, "--cflags"))
        flags += shlex.split(_pg_config(pg_config, "--cflags_sl"))
        compiler = shlex.split(_pg_config(pg_config, "--cc")) or ["cc"]
    except (OSError, subprocess.SubprocessError) as exc:
        raise FlowDBError(f"cannot run {pg_config}: {exc}") from exc
    if not (Path(include) / "postgres.h").exists():
        raise FlowDBError(
            f"PostgreSQL's server headers are not installed ({include}/postgres.h is missing; "
            "Debian: apt-get install postgresql-server-dev-15)"
        )
    if shutil.which(compiler[0]) is None:
        raise FlowDBError(f"no C compiler: {compiler[0]} is not on PATH")
    source = SOURCE.read_bytes()
    digest = hashlib.sha256(source + version.encode()).hexdigest()[:16]
    library = directory / f"{NAME}-{digest}.so"
    if library.exists():
        return library
    try:
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
        # Compiled under a temporary name, then renamed: a half-written library is never seen under its name.
        fd, partial = tempfile.mkstemp(dir=directory, prefix=f".{NAME}-", suffix=".so")
        os.close(fd)
    except OSError as exc:
        raise FlowDBError(f"cannot write the library into {directory}: {exc}") from exc
    try:
        result = subprocess.run(
            [*compiler, *flags, f"-I{include}", "-shared", "-o", partial, str(SOURCE)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise FlowDBError(f"compiling {SOURCE.name} failed:\n{result.stderr.strip()}")
        os.chmod(partial, 0o755)
        os.replace(partial, library)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return library


def find_library(
    configured: Path | None, build_directory: Path | None, pg_config: Path
) -> NativeLibrary:
    """The library for this run: `configured` if given (it must exist), else a build in `build_directory`
    (None: the server cannot read our files), else none, with the reason."""
    if configured is not None:
        if not configured.is_file():
            raise FlowDBError(f"FLOWDB_SYNTHETIC_LIBRARY {configured} does not exist")
        return NativeLibrary(configured, f"native generator {configured}")
    if build_directory is None:
        return NativeLibrary(
            None,
            "native generator not used (FlowDB is not local and FLOWDB_SYNTHETIC_LIBRARY is unset): "
            "rows computed by SQL expressions, about half as fast",
        )
    try:
        library = build(build_directory, pg_config)
    except FlowDBError as exc:
        first_line = str(exc).splitlines()[0]
        return NativeLibrary(
            None,
            f"native generator not built ({first_line}): rows computed by SQL expressions, about half "
            "as fast",
        )
    return NativeLibrary(library, f"native generator {library}")
