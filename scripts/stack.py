"""Run the whole stack natively in the background: Redis, the FlowMachine server and FlowAPI (FlowDB itself is
started by `flowdb start`). `make up` / `make down` call this.

    python scripts/stack.py up | down | status

Everything the stack writes goes in one folder, STACK_DIR (default `.stack/`): `logs/<service>.log`,
`pids/<service>.pid`, Redis's working directory, and a development RS256 key pair (`keys/`) made on first use
when PUBLIC_JWT_SIGNING_KEY is not set. FlowKit's environment variables are honoured when set (REDIS_PORT,
REDIS_PASSWORD, FLOWMACHINE_PORT, FLOWAPI_PORT, FLOWAPI_IDENTIFIER, PUBLIC_JWT_SIGNING_KEY, FLOWDB_PORT, ...).
`down` stops only processes whose PIDs it recorded, after checking they are still the programs it started.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from flowdb.settings import Settings as FlowDBSettings
from flowkit_jwt_generator import generate_keypair

STACK_DIR = Path(os.environ.get("STACK_DIR") or ".stack").resolve()
BIN = Path(sys.executable).parent
DEV_IDENTIFIER = "flowkit-dev"


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _keys() -> tuple[str, str]:
    """(private, public) PEM text: the environment's, or the stack's development pair (made once)."""
    if os.environ.get("PUBLIC_JWT_SIGNING_KEY"):
        return os.environ.get("PRIVATE_JWT_SIGNING_KEY", ""), os.environ["PUBLIC_JWT_SIGNING_KEY"]
    keys = STACK_DIR / "keys"
    private, public = keys / "private.pem", keys / "public.pem"
    if not public.exists():
        keys.mkdir(parents=True, exist_ok=True)
        private_pem, public_pem = generate_keypair()
        private.write_bytes(private_pem)
        private.chmod(0o600)
        public.write_bytes(public_pem)
    return private.read_text(), public.read_text()


def _services() -> dict[str, tuple[list[str], dict[str, str], int]]:
    """name -> (command, extra environment, port it listens on), in start order."""
    db = FlowDBSettings.from_env()
    redis_port = _port("REDIS_PORT", 6379)
    redis_cmd = [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(redis_port),
                 "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(STACK_DIR / "redis")]  # fmt: skip
    if os.environ.get("REDIS_PASSWORD"):
        redis_cmd += ["--requirepass", os.environ["REDIS_PASSWORD"]]
    common = {
        "FLOWDB_HOST": os.environ.get("FLOWDB_HOST") or "127.0.0.1",
        "FLOWDB_PORT": str(db.port),
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_port),
        "FLOWMACHINE_HOST": "127.0.0.1",
        "FLOWMACHINE_PORT": str(_port("FLOWMACHINE_PORT", 5555)),
    }
    _, public = _keys()
    machine = {**common, "FLOWMACHINE_FLOWDB_PASSWORD": db.role_password("flowmachine")}
    api = {
        **common,
        "FLOWAPI_PORT": str(_port("FLOWAPI_PORT", 9090)),
        "FLOWAPI_FLOWDB_USER": db.flowapi_user,
        "FLOWAPI_FLOWDB_PASSWORD": db.role_password(db.flowapi_user),
        "FLOWAPI_IDENTIFIER": os.environ.get("FLOWAPI_IDENTIFIER") or DEV_IDENTIFIER,
        "PUBLIC_JWT_SIGNING_KEY": public,
    }
    return {
        "redis": (redis_cmd, common, redis_port),
        "flowmachine": ([str(BIN / "flowmachine")], machine, int(common["FLOWMACHINE_PORT"])),
        "flowapi": ([str(BIN / "flowapi")], api, int(api["FLOWAPI_PORT"])),
    }


def _pid_file(name: str) -> Path:
    return STACK_DIR / "pids" / f"{name}.pid"


def _running(name: str, program: str) -> int | None:
    """The recorded PID of `name` if that process is alive and still runs `program`."""
    try:
        pid = int(_pid_file(name).read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        return None
    return pid if Path(program).name in cmdline else None


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def up() -> None:
    for sub in ("logs", "pids", "redis"):
        (STACK_DIR / sub).mkdir(parents=True, exist_ok=True)
    for name, (cmd, env, port) in _services().items():
        if _running(name, cmd[0]):
            print(f"{name}: already running (port {port})")
            continue
        if _listening(port):
            sys.exit(f"{name}: port {port} is taken by another program; set its *_PORT variable")
        log = (STACK_DIR / "logs" / f"{name}.log").open("ab")
        proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        _pid_file(name).write_text(str(proc.pid))
        deadline = time.monotonic() + 60
        while not _listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (STACK_DIR / "logs" / f"{name}.log").read_text(errors="replace")[-2000:]
                sys.exit(f"{name} did not start (log {STACK_DIR}/logs/{name}.log):\n{tail}")
            time.sleep(0.2)
        print(f"{name}: running on 127.0.0.1:{port} (pid {proc.pid})")


def down() -> None:
    for name, (cmd, _, _) in reversed(_services().items()):
        pid = _running(name, cmd[0])
        if pid is None:
            _pid_file(name).unlink(missing_ok=True)
            continue
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if _running(name, cmd[0]) is None or not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        _pid_file(name).unlink(missing_ok=True)
        print(f"{name}: stopped")


def status() -> None:
    for name, (cmd, _, port) in _services().items():
        pid = _running(name, cmd[0])
        print(f"{name}: " + (f"running on 127.0.0.1:{port} (pid {pid})" if pid else "stopped"))


if __name__ == "__main__":
    actions = {"up": up, "down": down, "status": status}
    if len(sys.argv) != 2 or sys.argv[1] not in actions:
        sys.exit("usage: stack.py up | down | status")
    actions[sys.argv[1]]()
