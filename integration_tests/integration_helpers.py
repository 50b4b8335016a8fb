"""Helpers for the integration tests: the whole local stack as real processes, FlowAuth's JSON API as a
client, and bounded waits. (A module of its own name, not `conftest`, so `import` finds it whichever other
test folders' conftest modules pytest loaded.)

`running_stack()` (the `stack` session fixture of conftest.py) starts in a temporary directory:

- a private FlowDB cluster (`flowdb.testing.temporary_cluster`) loaded with FlowMachine's fixture data
  (`flowmachine.testing.load_fixture_data`: small days 2016-01-01..03 and 2016-03-01..05, the data FlowAPI's and flowclient's
  own tests use, where every query kind has unredacted rows);
- a private redis-server;
- the FlowMachine server, FlowAPI and FlowAuth, each a SUBPROCESS run through its console script (as
  `scripts/stack.py` does), on free loopback ports, logging to `<tmp>/logs/<name>.log`.

Every process started here is stopped at the end of the session by its own PID (SIGTERM, then SIGKILL).
A start that fails raises with the tail of that process's log. Every wait is bounded.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import zmq
from cryptography.fernet import Fernet

import flowclient as fc
from flowdb.cluster import Cluster
from flowdb.synthetic.config import SyntheticConfig
from flowdb.synthetic.dfs import build_dfs
from flowdb.testing import free_port, scratch_directory, start_redis, temporary_cluster
from flowkit_jwt_generator import generate_keypair, generate_token
from flowmachine.testing import load_fixture_data

BIN = Path(sys.executable).parent
AUDIENCE = "integration-flowapi"
ADMIN_USERNAME = "it-admin"
ADMIN_PASSWORD = "Quartz-Heron-Lantern-83"
START_TIMEOUT = 90  # seconds for one service to come up
DFS_CONFIG = dict(start_date=dt.date(2016, 3, 1), n_days=5, n_dfs_transactions=500)
OWNER_LEASE_SECONDS = 3  # a killed FlowMachine's claim on a query lapses quickly


def log_tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError as exc:
        return f"(no log: {exc})"


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def zmq_request(
    port: int, action: str, params: dict[str, Any] | None = None, timeout: float = 10
) -> dict:
    """One request to a FlowMachine server over ZeroMQ (FlowKit's protocol), with a timeout."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, int(timeout * 1000))
    sock.setsockopt(zmq.SNDTIMEO, int(timeout * 1000))
    try:
        sock.connect(f"tcp://127.0.0.1:{port}")
        sock.send_json({"request_id": uuid.uuid4().hex, "action": action, "params": params or {}})
        return sock.recv_json()  # type: ignore[return-value]
    finally:
        sock.close()


@dataclass
class Service:
    """One process we started: its command, environment, port and log; `start`, `kill`, `stop`."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    port: int
    logs: Path
    ready: Callable[[Service], bool] = field(default=lambda s: _listening(s.port))
    proc: subprocess.Popen | None = None

    @property
    def log(self) -> Path:
        return self.logs / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> Service:
        with self.log.open("ab") as out:
            out.write(f"\n=== starting {self.cmd} at {dt.datetime.now()} ===\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.cmd,
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode} while starting; log {self.log}:\n"
                    f"{log_tail(self.log)}"
                )
            try:
                if self.ready(self):
                    return self
            except Exception:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"{self.name} did not become ready within {timeout} s on port {self.port}; "
                    f"log {self.log}:\n{log_tail(self.log)}"
                )
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL, as a crash (only our own PID)."""
        if self.alive():
            assert self.proc is not None
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 15) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def flowmachine_ready(service: Service) -> bool:
    reply = zmq_request(service.port, "ping", timeout=2)
    return reply.get("status") == "success"


def flowapi_ready(service: Service) -> bool:
    response = httpx.get(f"http://127.0.0.1:{service.port}/api/0/spec/openapi.json", timeout=5)
    return response.status_code == 200


def flowauth_ready(service: Service) -> bool:
    return httpx.get(f"http://127.0.0.1:{service.port}/version", timeout=5).status_code == 200


@dataclass
class Stack:
    root: Path
    cluster: Cluster
    redis_port: int
    private_key: str
    public_key: str
    flowmachine: Service
    flowapi: Service
    flowauth: Service
    extra: list[Service] = field(default_factory=list)
    # the current redis-server (see kill_redis, start_redis)
    redis_proc: subprocess.Popen | None = None

    @property
    def flowapi_url(self) -> str:
        return f"http://127.0.0.1:{self.flowapi.port}"

    @property
    def flowauth_url(self) -> str:
        return f"http://127.0.0.1:{self.flowauth.port}"

    @property
    def flowdb_port(self) -> int:
        return self.cluster.status().port

    def kill_redis(self) -> None:
        """SIGKILL the stack's redis-server (only our own PID): it keeps nothing (no persistence)."""
        proc = self.redis_proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    def start_redis(self) -> None:
        """Start a fresh, empty redis-server on the stack's Redis port (after `kill_redis`); no-op if the
        current one runs."""
        if self.redis_proc is not None and self.redis_proc.poll() is None:
            return
        self.redis_proc, _ = start_redis(self.root / "redis", self.redis_port)

    def stop_redis(self) -> None:
        """Stop the current redis-server (SIGTERM, then SIGKILL): the end of the session."""
        if self.redis_proc is not None:
            _terminate(self.redis_proc)

    def flowmachine_env(self, port: int) -> dict[str, str]:
        return {
            "FLOWDB_HOST": "127.0.0.1",
            "FLOWDB_PORT": str(self.flowdb_port),
            "FLOWMACHINE_FLOWDB_USER": "flowmachine",
            "FLOWMACHINE_FLOWDB_PASSWORD": self.cluster.settings.role_password("flowmachine"),
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(self.redis_port),
            "FLOWMACHINE_PORT": str(port),
            "FLOWMACHINE_SERVER_BIND_ADDRESS": "127.0.0.1",
            "FLOWMACHINE_OWNER_LEASE_SECONDS": str(OWNER_LEASE_SECONDS),
            "FLOWMACHINE_LOG_LEVEL": "info",
        }

    def new_flowmachine(self, name: str) -> Service:
        """Another FlowMachine server process on a free port, sharing this stack's FlowDB and Redis (started;
        stopped at the end of the session if the test does not stop it)."""
        port = free_port()
        service = Service(
            name,
            [str(BIN / "flowmachine")],
            self.flowmachine_env(port),
            port,
            self.root / "logs",
            ready=flowmachine_ready,
        )
        self.extra.append(service)
        return service.start()

    def token(self, scopes: list[str] | None = None, **overrides: Any) -> str:
        """A token as flowkit_jwt_generator mints it with the stack's private key (all published scopes by
        default)."""
        if scopes is None:
            scopes = self.all_scopes()
        args: dict[str, Any] = {
            "flowapi_identifier": AUDIENCE,
            "username": "integration",
            "private_key": self.private_key,
            "lifetime": dt.timedelta(minutes=30),
            "roles": {"integration_role": scopes},
        }
        args.update(overrides)
        return generate_token(**args)

    def openapi(self) -> dict:
        return httpx.get(f"{self.flowapi_url}/api/0/spec/openapi.json", timeout=30).json()

    def all_scopes(self) -> list[str]:
        return self.openapi()["components"]["securitySchemes"]["token"]["x-security-scopes"]

    def connect(self, token: str) -> fc.Connection:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # plain http on loopback: the NOT SECURE warning
            return fc.connect(url=self.flowapi_url, token=token)

    def flowauth_cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(BIN / "flowauth"), *args],
            env={**os.environ, **self.flowauth.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"flowauth {' '.join(args[:1])} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result


@contextmanager
def running_stack() -> Iterator[Stack]:
    """Start the whole stack in a temporary directory; stop every process started here on leaving."""
    started: list[Service] = []
    with scratch_directory("flowkit-integration-") as root:
        logs = root / "logs"
        logs.mkdir()
        redis_proc = None
        stack_obj: Stack | None = None
        try:
            with temporary_cluster(root) as cluster:
                with cluster.connect() as conn:
                    load_fixture_data(conn)
                    # mobile-money rows for the fixture's days (the fixture has none), so
                    # dfs_metric_total_amount has something to add up
                    build_dfs(conn, SyntheticConfig.from_env({}, **DFS_CONFIG))
                redis_proc, redis_port = start_redis(root / "redis")
                private_pem, public_pem = generate_keypair()
                private, public = private_pem.decode(), public_pem.decode()

                fm_port = free_port()
                common = {"FLOWDB_HOST": "127.0.0.1", "FLOWDB_PORT": str(cluster.status().port)}
                flowmachine = Service("flowmachine", [str(BIN / "flowmachine")], {}, fm_port, logs,
                                      ready=flowmachine_ready)  # fmt: skip
                api_port = free_port()
                flowapi = Service(
                    "flowapi",
                    [str(BIN / "flowapi")],
                    {
                        **common,
                        "FLOWMACHINE_HOST": "127.0.0.1",
                        "FLOWMACHINE_PORT": str(fm_port),
                        "FLOWAPI_PORT": str(api_port),
                        "FLOWAPI_BIND_ADDRESS": "127.0.0.1",
                        "FLOWAPI_FLOWDB_USER": cluster.settings.flowapi_user,
                        "FLOWAPI_FLOWDB_PASSWORD": cluster.settings.role_password(
                            cluster.settings.flowapi_user
                        ),
                        "FLOWAPI_IDENTIFIER": AUDIENCE,
                        "PUBLIC_JWT_SIGNING_KEY": public,
                        "FLOWAPI_ZMQ_TIMEOUT": "10",
                        "FLOWAPI_LOG_LEVEL": "info",
                    },
                    api_port,
                    logs,
                    ready=flowapi_ready,
                )
                auth_port = free_port()
                (root / "flowauth").mkdir()
                flowauth = Service(
                    "flowauth",
                    [
                        str(BIN / "flowauth"),
                        "serve",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(auth_port),
                    ],
                    {
                        "PRIVATE_JWT_SIGNING_KEY": private,
                        "FLOWAUTH_FERNET_KEY": Fernet.generate_key().decode(),
                        "SECRET_KEY": uuid.uuid4().hex,
                        "DB_URI": f"sqlite:///{root / 'flowauth' / 'flowauth.db'}",
                        "FLOWAUTH_LOG_LEVEL": "info",
                        # the admin reads FlowAPI's spec from its URL (fetching is off by default)
                        "FLOWAUTH_SPEC_URL_ORIGINS": f"http://127.0.0.1:{api_port}",
                        # one TOTP step of slack, so a test can sign in with the next step's code
                        # right after confirming two-factor with the current one
                        "TWO_FACTOR_VALID_WINDOW": "1",
                    },
                    auth_port,
                    logs,
                    ready=flowauth_ready,
                )
                stack_obj = Stack(root, cluster, redis_port, private, public,
                                  flowmachine, flowapi, flowauth, redis_proc=redis_proc)  # fmt: skip
                flowmachine.env = stack_obj.flowmachine_env(fm_port)
                for service in (flowmachine, flowapi, flowauth):
                    started.append(service)
                    service.start()
                # the administrator, through the CLI, as an operator would
                stack_obj.flowauth_cli("add-admin", ADMIN_USERNAME, ADMIN_PASSWORD)
                yield stack_obj
        finally:
            for service in [*(stack_obj.extra if stack_obj else []), *reversed(started)]:
                try:
                    service.stop()
                except Exception as exc:  # keep stopping the others
                    print(
                        f"could not stop {service.name} (pid {service.proc and service.proc.pid}): {exc}"
                    )
            # whichever redis-server is current (a test may have restarted it)
            if stack_obj is not None:
                stack_obj.stop_redis()
            elif redis_proc is not None:
                _terminate(redis_proc)
            if os.environ.get("INTEGRATION_KEEP_LOGS"):
                keep = Path(os.environ["INTEGRATION_KEEP_LOGS"])
                shutil.copytree(root / "logs", keep, dirs_exist_ok=True)


class FlowAuthClient:
    """FlowAuth's JSON API as its browser UI uses it: a cookie session, and the X-CSRF cookie echoed in the
    X-CSRF-Token header of every request that is not a GET (the cookie changes at sign-in, so it is read
    before each request)."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)

    def close(self) -> None:
        self.http.close()

    def _csrf(self) -> str:
        token = self.http.cookies.get("X-CSRF")
        if token is None:
            self.http.get("/version").raise_for_status()
            token = self.http.cookies.get("X-CSRF")
        assert token is not None, "FlowAuth set no X-CSRF cookie"
        return token

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def send(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.http.request(method, path, json=body, headers={"X-CSRF-Token": self._csrf()})

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return self.send("POST", path, body)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        """The JSON of a 200 answer (else a failure naming the answer)."""
        response = self.get(path) if method == "GET" else self.send(method, path, body)
        assert response.status_code == 200, (
            f"{method} {path}: {response.status_code} {response.text[:1000]}"
        )
        return response.json()

    def sign_in(self, username: str, password: str, code: str | None = None) -> httpx.Response:
        body = {"username": username, "password": password}
        if code is not None:
            body["two_factor_code"] = code
        return self.post("/signin", body)


USER_PASSWORD = "Harbor-Violet-Compass-17"


@dataclass
class AuthWorld:
    """What an administrator set up through FlowAuth's API for one test."""

    server_id: int
    server_name: str
    role_scopes: dict[str, list[str]]  # role name -> its scope names
    username: str
    password: str = USER_PASSWORD


def make_world(
    admin: FlowAuthClient,
    stack: Stack,
    roles: dict[str, list[str]],
    *,
    username: str,
    require_two_factor: bool = False,
    server_name: str | None = None,
) -> AuthWorld:
    """As an administrator: a server from FlowAPI's spec (its audience and every scope it publishes), the
    given roles on it (name -> scope names), and a user holding them."""
    from_spec = admin.ok("POST", "/admin/servers/spec", {"url": stack.flowapi_url})
    assert from_spec["name"] == AUDIENCE
    assert set(from_spec["scopes"]) == set(stack.all_scopes())
    name = server_name or from_spec["name"]
    existing = {s["name"]: s["id"] for s in admin.ok("GET", "/admin/servers")}
    if name in existing:
        server_id = existing[name]
    else:
        server_id = admin.ok(
            "POST",
            "/admin/servers",
            {"name": name, "longest_token_life_minutes": 120, "scopes": from_spec["scopes"]},
        )["id"]
    scope_ids = {s["name"]: s["id"] for s in admin.ok("GET", f"/admin/servers/{server_id}/scopes")}
    role_ids = []
    for role, scopes in roles.items():
        made = admin.ok(
            "POST",
            "/roles/",
            {
                "name": f"{username}_{role}",
                "server_id": server_id,
                "scopes": [scope_ids[s] for s in scopes],
                "longest_token_life_minutes": 60,
            },
        )
        role_ids.append(made["id"])
    admin.ok(
        "POST",
        "/admin/users",
        {
            "username": username,
            "password": USER_PASSWORD,
            "roles": role_ids,
            "require_two_factor": require_two_factor,
        },
    )
    return AuthWorld(server_id, name, {f"{username}_{r}": s for r, s in roles.items()}, username)


def mint(client: FlowAuthClient, world: AuthWorld, roles: list[str]) -> httpx.Response:
    return client.post(
        f"/tokens/tokens/{world.server_id}",
        {"name": "integration_token", "roles": [{"name": r} for r in roles]},
    )


def wait_ready(conn: fc.Connection, query_id: str, timeout: float = 120) -> None:
    """Poll through FlowAPI (flowclient's query_is_ready) until the query is ready, at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while not fc.query_is_ready(connection=conn, query_id=query_id)[0]:
        if time.monotonic() > deadline:
            status = fc.get_status(connection=conn, query_id=query_id)
            raise AssertionError(f"query {query_id} not ready after {timeout} s (status {status})")
        time.sleep(0.2)


def poll_response(stack: Stack, token: str, query_id: str) -> httpx.Response:
    """GET /api/0/poll/<id> as a raw response (202, 303, 503, ...), redirects not followed."""
    return httpx.get(
        f"{stack.flowapi_url}/api/0/poll/{query_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,  # FlowAPI gives up on FlowMachine after FLOWAPI_ZMQ_TIMEOUT (10 s)
        follow_redirects=False,
    )


def _terminate(proc: subprocess.Popen) -> None:
    """Stop a process we started: SIGTERM, then SIGKILL after 10 s (nothing if it has ended)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def wait_until(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.2
) -> Any:
    """Call `condition` until it returns something truthy (returned), at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
