"""The cluster's life cycle and its refusals, each in a data directory of its own."""

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from flowdb.cluster import Cluster
from flowdb.errors import FlowDBError
from flowdb.migrate import Migration, available_migrations, migrate
from flowdb.testing import make_settings


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flowdb.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_life_cycle_is_idempotent(scratch_root):
    cluster = Cluster(make_settings(scratch_root / "lifecycle"))
    assert cluster.init() is True
    assert cluster.init() is False
    marker = json.loads(cluster.marker.read_text())
    assert marker["kind"] == "flowdb-cluster"
    assert cluster.status().running is False
    try:
        assert cluster.start() is True
        assert cluster.start() is False  # already running: migrations re-checked, nothing else
        status = cluster.status()
        assert status.running and status.port == cluster.settings.port
        with cluster.connect() as conn:
            conn.execute("CREATE TABLE public.survives_restart AS SELECT 42 AS n")
        assert cluster.stop() is True
        assert cluster.stop() is False
        assert cluster.start() is True
        with cluster.connect() as conn:
            assert conn.execute("SELECT n FROM public.survives_restart").fetchone()[0] == 42
            assert cluster.prepare_database() == []  # every migration already applied
    finally:
        cluster.stop()


def test_socket_is_private_to_the_owner(scratch_root):
    cluster = Cluster(make_settings(scratch_root / "private"))
    cluster.start()
    try:
        mode = cluster.socket_dir.stat().st_mode
        assert stat.S_IMODE(mode) == 0o700
    finally:
        cluster.stop()


def test_port_in_use_is_refused_before_anything_is_created(scratch_root):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        data_dir = scratch_root / "busy"
        result = run_cli("start", env={"FLOWDB_DATA_DIR": str(data_dir), "FLOWDB_PORT": str(port)})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"flowdb: error: port {port} on 127.0.0.1 is already in use by another program; "
        "stop it or set FLOWDB_PORT to a free port"
    ]
    assert not data_dir.exists()


def test_a_directory_that_belongs_to_something_else_is_left_alone(scratch_root):
    foreign = scratch_root / "foreign"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    with pytest.raises(FlowDBError, match="is not empty and does not hold a FlowDB cluster"):
        Cluster(make_settings(foreign)).init()
    assert sorted(p.name for p in foreign.iterdir()) == ["precious.txt"]
    (foreign / "flowdb.json").write_text('{"kind": "something-else"}')
    with pytest.raises(FlowDBError, match="was not written by flowdb"):
        Cluster(make_settings(foreign)).init()


def test_a_marker_without_a_cluster_is_reported(scratch_root):
    broken = scratch_root / "broken"
    broken.mkdir()
    (broken / "flowdb.json").write_text('{"kind": "flowdb-cluster"}')
    with pytest.raises(FlowDBError, match="has no cluster"):
        Cluster(make_settings(broken)).start()


def _fake_bindir(root: Path, *, initdb_fails: bool = False, sharedir: Path | None = None) -> Path:
    """Real server binaries, with a pg_config pointing at `sharedir` and optionally a failing initdb."""
    real = Path("/usr/lib/postgresql/15/bin")
    fake = root / "bin"
    fake.mkdir(parents=True)
    for name in ("pg_ctl", "postgres", "initdb"):
        (fake / name).symlink_to(real / name)
    if initdb_fails:
        (fake / "initdb").unlink()
        (fake / "initdb").write_text("#!/bin/sh\necho 'initdb: simulated failure' >&2\nexit 1\n")
        (fake / "initdb").chmod(0o755)
    share = sharedir or Path("/usr/share/postgresql/15")
    (fake / "pg_config").write_text(f"#!/bin/sh\necho {share}\n")
    (fake / "pg_config").chmod(0o755)
    root.chmod(0o755)
    return fake


def test_missing_postgis_is_a_clear_error(scratch_root):
    empty_share = scratch_root / "noshare"
    (empty_share / "extension").mkdir(parents=True)
    bindir = _fake_bindir(scratch_root / "nopostgis", sharedir=empty_share)
    data_dir = scratch_root / "nopostgis-data"
    result = run_cli(
        "init", env={"FLOWDB_DATA_DIR": str(data_dir), "FLOWDB_PG_BINDIR": str(bindir)}
    )
    assert result.returncode == 1
    assert "PostGIS is not installed" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not data_dir.exists()


def test_a_failed_init_leaves_nothing_behind(scratch_root):
    bindir = _fake_bindir(scratch_root / "failing", initdb_fails=True)
    new_dir = scratch_root / "failing-new"
    with pytest.raises(FlowDBError, match="initdb failed: initdb: simulated failure"):
        Cluster(make_settings(new_dir, FLOWDB_PG_BINDIR=str(bindir))).init()
    assert not new_dir.exists()
    existing = scratch_root / "failing-existing"
    existing.mkdir()
    with pytest.raises(FlowDBError):
        Cluster(make_settings(existing, FLOWDB_PG_BINDIR=str(bindir))).init()
    assert existing.exists() and list(existing.iterdir()) == []


def test_migrations_upgrade_in_place_and_refuse_edits(db):
    base = available_migrations()
    assert [m.version for m in base] == sorted(m.version for m in base)
    assert migrate(db) == []
    probe = Migration(9999, "upgrade_probe", "CREATE TABLE public.upgrade_probe (n int);")
    try:
        assert migrate(db, [*base, probe]) == [probe]
        assert migrate(db, [*base, probe]) == []
        assert db.execute("SELECT to_regclass('public.upgrade_probe')").fetchone()[0] is not None
        edited = Migration(base[0].version, base[0].name, base[0].sql + "\n-- edited")
        with pytest.raises(FlowDBError, match="was changed after it was applied"):
            migrate(db, [edited])
    finally:
        db.execute("DROP TABLE IF EXISTS public.upgrade_probe")
        db.execute("DELETE FROM public.schema_migrations WHERE version = 9999")


def test_cli_status_url_and_psql(cluster):
    env = {
        "FLOWDB_DATA_DIR": str(cluster.settings.data_dir),
        "FLOWDB_PORT": str(cluster.settings.port),
        "FLOWMACHINE_FLOWDB_PASSWORD": "fm-test-pw",
        "FLOWAPI_FLOWDB_PASSWORD": "api-test-pw",
    }
    status = run_cli("status", env=env)
    assert status.returncode == 0 and "running on 127.0.0.1" in status.stdout
    url = run_cli("url", "--role", "flowapi", env=env)
    assert (
        url.stdout.strip()
        == f"postgresql://flowapi:api-test-pw@127.0.0.1:{cluster.settings.port}/flowdb"
    )
    psql = run_cli("psql", "-At", "-c", "select count(*) from events.calls", env=env)
    assert psql.returncode == 0, psql.stderr
    assert psql.stdout.strip().isdigit()
    bad_role = run_cli("url", "--role", "postgres", env=env)
    assert bad_role.returncode == 1 and "unknown role" in bad_role.stderr


def test_cli_status_of_nothing(scratch_root):
    result = run_cli("status", env={"FLOWDB_DATA_DIR": str(scratch_root / "nothing-here")})
    assert result.returncode == 3
    assert "not initialised" in result.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FLOWDB_PORT": "ninety"}, "FLOWDB_PORT must be a whole number"),
        ({"FLOWDB_PORT": "70000"}, "FLOWDB_PORT must be between 1 and 65535"),
        ({"FLOWAPI_FLOWDB_USER": "flowmachine"}, "FLOWAPI_FLOWDB_USER must be a role of its own"),
        (
            {"FLOWMACHINE_FLOWDB_TEMP_FILE_LIMIT": "lots"},
            "FLOWMACHINE_FLOWDB_TEMP_FILE_LIMIT must be a size such as 512MB",
        ),
        (
            {"FLOWMACHINE_FLOWDB_STATEMENT_TIMEOUT": "-5"},
            "FLOWMACHINE_FLOWDB_STATEMENT_TIMEOUT must be at least 0",
        ),
    ],
)
def test_bad_settings_are_one_line_errors(scratch_root, env, message):
    result = run_cli("status", env={"FLOWDB_DATA_DIR": str(scratch_root / "x"), **env})
    assert result.returncode == 1
    assert result.stderr.startswith(f"flowdb: error: {message}")
    assert len(result.stderr.strip().splitlines()) == 1
