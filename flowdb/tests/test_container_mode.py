"""What a container needs from `flowdb`: listening beyond loopback, a foreground mode, Docker secrets."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowdb.cluster import Cluster
from flowdb.errors import FlowDBError
from flowdb.settings import Settings
from flowdb.testing import make_settings


def test_listen_addresses_default_to_loopback_and_accept_a_list():
    assert Settings.from_env({}, secrets_dir=None).listen_addresses == "127.0.0.1"
    assert Settings.from_env({}, secrets_dir=None).loopback_only
    wide = Settings.from_env({"FLOWDB_LISTEN_ADDRESSES": "127.0.0.1, 10.0.0.5"}, secrets_dir=None)
    assert wide.listen_addresses == "127.0.0.1,10.0.0.5"
    assert not wide.loopback_only
    assert (
        Settings.from_env({"FLOWDB_LISTEN_ADDRESSES": "*"}, secrets_dir=None).listen_addresses
        == "*"
    )


@pytest.mark.parametrize("bad", ["127.0.0.1'; ssl = on", "a b", ",", "x\ny"])
def test_listen_addresses_that_could_break_the_config_are_refused(bad):
    with pytest.raises(FlowDBError, match="FLOWDB_LISTEN_ADDRESSES"):
        Settings.from_env({"FLOWDB_LISTEN_ADDRESSES": bad}, secrets_dir=None)


def test_docker_secrets_win_over_the_environment(tmp_path):
    (tmp_path / "POSTGRES_PASSWORD").write_text("from-secret\n")
    (tmp_path / "FLOWAPI_FLOWDB_PASSWORD").write_text("api-secret")
    env = {"POSTGRES_PASSWORD": "from-env", "FLOWMACHINE_FLOWDB_PASSWORD": "fm-env"}
    settings = Settings.from_env(env, secrets_dir=tmp_path)
    assert settings.superuser_password == "from-secret"
    assert settings.flowapi_password == "api-secret"
    assert settings.flowmachine_password == "fm-env"
    assert Settings.from_env(env, secrets_dir=None).superuser_password == "from-env"


def _wait_for(predicate, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"flowdb exited early ({proc.returncode}):\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("timed out waiting for flowdb start --foreground")
        time.sleep(0.2)


def test_foreground_start_listens_everywhere_and_stops_cleanly_on_sigterm(scratch_root):
    settings = make_settings(scratch_root / "foreground", FLOWDB_LISTEN_ADDRESSES="*")
    cluster = Cluster(settings)
    env = {**os.environ, **{k: v for k, v in settings.env.items()}}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowdb.cli", "start", "--foreground"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(cluster.ready_file.exists, 240, proc)
        with cluster.connect() as conn:
            assert conn.execute("SHOW listen_addresses").fetchone()[0] == "*"
        hba = (cluster.pgdata / "pg_hba.conf").read_text()
        assert "host  all all 0.0.0.0/0 scram-sha-256" in hba
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        cluster.stop()
    assert proc.returncode == 0, err
    assert "FlowDB started" in out and out.rstrip().endswith("FlowDB stopped")
    assert not cluster.status().running
    assert not cluster.ready_file.exists()

    # Back on the default, the cluster listens on loopback only and pg_hba no longer admits other hosts.
    local = Cluster(make_settings(Path(settings.data_dir)))
    try:
        local.start()
        with local.connect() as conn:
            assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        assert "0.0.0.0/0" not in (local.pgdata / "pg_hba.conf").read_text()
        assert not local.ready_file.exists()  # only --foreground marks the cluster ready
    finally:
        local.stop()
