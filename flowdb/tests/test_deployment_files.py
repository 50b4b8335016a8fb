"""docker-compose.yml and the Dockerfiles must not drift from the code they deploy.

Nothing here keeps its own list of setting names: the names each service reads come from its settings modules
(the string literals handed to the environment lookups, plus SyntheticConfig's fields), and every service's
real `from_env` is run on exactly the environment and secrets the deployment gives it. No Docker is needed.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import json
import re
import shlex
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SECRETS_MOUNT = "/run/secrets/"
# Variables of the runtime itself, not of our code.
RUNTIME_ENV = {"PATH", "PYTHONUNBUFFERED"}
# Executables a health check may use besides the component's console scripts, by base image.
BASE_IMAGE_EXECUTABLES = {
    "python": {"python", "sh", "test"},
    "postgres": {"sh", "test", "pg_isready"},
    "redis": {"sh", "redis-cli", "grep", "cat"},
}
REDIS_PORT = 6379  # redis-server's default; our compose file does not change it
# Wrappers an image may put before its real command.
WRAPPERS = {"tini": {"-g", "-s", "--"}}


# -- the code side: what each service reads ------------------------------------------------------------------
def _module_path(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, module
    return Path(spec.origin)


def env_names_read(*modules: str) -> set[str]:
    """Upper-case string literals passed to a call or used as a subscript: the names handed to env lookups."""
    names: set[str] = set()
    for module in modules:
        tree = ast.parse(_module_path(module).read_text())
        for node in ast.walk(tree):
            candidates: Iterable[ast.AST] = ()
            if isinstance(node, ast.Call):
                candidates = node.args
            elif isinstance(node, ast.Subscript):
                candidates = (node.slice,)
            for arg in candidates:
                if (
                    isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str)
                    and re.fullmatch(r"[A-Z][A-Z0-9_]+", arg.value)
                ):
                    names.add(arg.value)
    return names


def synthetic_env_names() -> set[str]:
    from flowdb.synthetic.config import SyntheticConfig

    return {f.name.upper() for f in fields(SyntheticConfig) if f.name != "generator"} | {
        "SYNTHETIC_DATA_GENERATOR"
    }


@dataclass
class Running:
    """What a service's code made of its environment: settings objects, listen port and address."""

    settings: list[Any]
    port: int | None  # None: the service listens on no port (FlowETL)
    address: str | None
    extra: dict[str, Any] = field(default_factory=dict)


def run_flowdb(
    env: Mapping[str, str], secrets_dir: Path, args: list[str], image: Image | None
) -> Running:
    from flowdb.settings import Settings
    from flowdb.synthetic.config import SyntheticConfig
    from flowdb.tuning import compute_tuning

    settings = Settings.from_env(env, secrets_dir=secrets_dir)
    compute_tuning(settings.env)
    objects: list[Any] = [settings]
    if any(a[:1] == ["synthetic"] for a in flowdb_invocations(args, image)):
        objects.append(SyntheticConfig.from_env(env))
    return Running(objects, settings.port, settings.listen_addresses)


def run_flowmachine(
    env: Mapping[str, str], secrets_dir: Path, args: list[str], image: Image | None
) -> Running:
    from flowmachine.core.server.server import ServerSettings
    from flowmachine.core.settings import Settings

    server = ServerSettings.from_env(env)
    settings = Settings.from_env(env, secrets_dir=secrets_dir)
    return Running([settings, server], server.port, server.bind_address)


def run_flowapi(
    env: Mapping[str, str], secrets_dir: Path, args: list[str], image: Image | None
) -> Running:
    from flowapi.settings import Settings

    settings = Settings.from_env(env, secrets_dir=secrets_dir)
    return Running([settings], settings.port, settings.bind_address)


def run_flowetl(
    env: Mapping[str, str], secrets_dir: Path, args: list[str], image: Image | None
) -> Running:
    from flowetl.cli import build_parser
    from flowetl.settings import Settings

    settings = Settings.from_env(env, secrets_dir=secrets_dir)
    cli = build_parser().parse_args(args[1:])
    assert cli.command == "serve", f"flowetl's container must run `flowetl serve`, not {args}"
    return Running([settings], None, None, {"cli": cli, "home": env.get("FLOWETL_HOME")})


def run_flowauth(
    env: Mapping[str, str], secrets_dir: Path, args: list[str], image: Image | None
) -> Running:
    from flowauth.cli import parser
    from flowauth.settings import Settings

    settings = Settings.from_env(env, secrets_dir=secrets_dir)
    cli = parser().parse_args(args[1:])
    assert cli.command == "serve", f"flowauth's container must run `flowauth serve`, not {args}"
    return Running([settings], cli.port, cli.host)


def run_autoflow(
    env: Mapping[str, str], secrets_dir: Path, args: list[str], image: Image | None
) -> Running:
    from autoflow.cli import build_parser
    from autoflow.settings import Settings

    settings = Settings.from_env(env, secrets_dir=secrets_dir)
    cli = build_parser().parse_args(args[1:])
    assert cli.command in (None, "serve"), (
        f"autoflow's container must run `autoflow serve`, not {args}"
    )
    return Running([settings], None, None, {"cli": cli, "home": env.get("AUTOFLOW_HOME")})


def is_prefect_setting(name: str) -> bool:
    """`name` is one of Prefect's own settings (Prefect reads it from the environment when imported)."""
    import prefect.settings

    try:
        getattr(prefect.settings, name)
    except AttributeError:
        return False
    return name.startswith("PREFECT_")


@dataclass(frozen=True)
class Component:
    folder: str
    settings_modules: tuple[str, ...]
    run: Callable[[Mapping[str, str], Path, list[str], Any], Running]
    extra_names: Callable[[], set[str]] = set
    # names read by a library the component runs (not by its own settings): accepted in the deployment
    library_setting: Callable[[str], bool] = lambda name: False


FLOWDB_MODULES = ("flowdb.settings", "flowdb.tuning")
COMPONENTS = {
    "flowdb": Component("flowdb", FLOWDB_MODULES, run_flowdb),
    "flowdb_synthetic_data": Component(
        "flowdb", (*FLOWDB_MODULES, "flowdb.synthetic.config"), run_flowdb, synthetic_env_names
    ),
    "flowmachine": Component(
        "flowmachine",
        ("flowmachine.core.settings", "flowmachine.core.server.server"),
        run_flowmachine,
    ),
    "flowapi": Component("flowapi", ("flowapi.settings",), run_flowapi),
    "flowauth": Component("flowauth", ("flowauth.settings",), run_flowauth),
    "flowetl": Component(
        "flowetl",
        ("flowetl.settings", "flowetl.flows", "flowkit_protocol.prefect_settings"),
        run_flowetl,
        library_setting=is_prefect_setting,
    ),
    "autoflow": Component(
        "autoflow",
        ("autoflow.settings", "autoflow.flows", "flowkit_protocol.prefect_settings"),
        run_autoflow,
        library_setting=is_prefect_setting,
    ),
}


def console_scripts(folder: str) -> dict[str, str]:
    project = tomllib.loads((ROOT / folder / "pyproject.toml").read_text())["project"]
    return project.get("scripts", {})


def check_cli(folder: str, argv: list[str]) -> None:
    """argv[0] is a console script of the component and its CLI accepts the rest."""
    scripts = console_scripts(folder)
    assert argv and argv[0] in scripts, (
        f"{argv[:1]} is not a console script of {folder} (pyproject [project.scripts]: {sorted(scripts)})"
    )
    module_name, func_name = scripts[argv[0]].split(":")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, func_name, None)), f"{scripts[argv[0]]} does not exist"
    factory = getattr(module, "build_parser", None) or getattr(module, "parser", None)
    if factory is None:
        assert not inspect.signature(getattr(module, func_name)).parameters and argv[1:] == [], (
            f"{argv[0]} takes no arguments, got {argv[1:]}"
        )
        return
    try:
        factory().parse_args(argv[1:])
    except SystemExit:
        pytest.fail(f"`{shlex.join(argv)}` is refused by {module_name}'s command line parser")


# -- the deployment side: compose and Dockerfiles ----------------------------------------------------------
def interpolate(value: Any) -> Any:
    """Compose interpolation with an empty shell environment: `${X:-d}` -> d; a bare `${X}` is a failure."""
    if not isinstance(value, str):
        return value

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        assert match.group("default") is not None, (
            f"{match.group(0)} has no default: the file must work without a .env"
        )
        return match.group("default")

    return re.sub(r"\$\$|\$\{(?P<name>\w+)(?::?-(?P<default>[^}]*))?\}", sub, value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@dataclass
class Image:
    """The runtime configuration a Dockerfile stage ends with (its own and inherited from earlier stages)."""

    base: str = ""
    env: dict[str, str] = field(default_factory=dict)
    expose: list[int] = field(default_factory=list)
    healthcheck: list[str] | None = None
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    copies: dict[str, str] = field(default_factory=dict)  # destination -> source in the context
    user: str = "root"
    built: set[str] = field(default_factory=set)  # destinations of files copied from other stages


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def parse_dockerfile(dockerfile: Path, target: str | None) -> Image:
    stages: dict[str, Image] = {}
    current: Image | None = None
    for keyword, rest in _instructions(dockerfile):
        if keyword == "FROM":
            words = rest.split()
            parent = words[0]
            name = words[2] if len(words) > 2 and words[1].upper() == "AS" else str(len(stages))
            if parent in stages:
                p = stages[parent]
                current = Image(
                    p.base, dict(p.env), list(p.expose), p.healthcheck, p.entrypoint, p.cmd,
                    dict(p.copies), p.user, set(p.built),
                )  # fmt: skip
            else:
                current = Image(base=parent)
            stages[name] = current
            last = name
        elif current is None:
            continue
        elif keyword == "ENV":
            for token in shlex.split(rest):
                key, _, value = token.partition("=")
                current.env[key] = value
        elif keyword == "EXPOSE":
            current.expose = [int(p.split("/")[0]) for p in rest.split()]
        elif keyword == "HEALTHCHECK":
            _, _, command = rest.partition("CMD ")
            current.healthcheck = ["CMD", *json.loads(command)]
        elif keyword in ("CMD", "ENTRYPOINT"):
            value = json.loads(rest)
            if keyword == "ENTRYPOINT":
                current.entrypoint, current.cmd = value, []
            else:
                current.cmd = value
        elif keyword == "COPY" and not rest.startswith("--from"):
            words = rest.split()
            if len(words) == 2:
                current.copies[words[1]] = words[0]
        elif keyword == "COPY":
            current.built.add(rest.split()[-1])
        elif keyword == "USER":
            current.user = rest
    key = target or last
    assert key in stages, f"{dockerfile}: no stage named {target!r}"
    return stages[key]


def strip_wrappers(argv: list[str]) -> list[str]:
    while argv and argv[0] in WRAPPERS:
        flags = WRAPPERS[argv[0]]
        argv = argv[1:]
        while argv and argv[0] in flags:
            argv = argv[1:]
    return argv


def flowdb_invocations(argv: list[str], image: Image | None = None) -> list[list[str]]:
    """The `flowdb ...` argument lists a container command runs (directly, or from a copied shell script)."""
    if argv[:1] == ["flowdb"]:
        return [argv[1:]]
    if image is None:
        return []
    script = next((src for dst, src in image.copies.items() if Path(dst).name == argv[0]), None)
    if script is None:
        return []
    calls = []
    for line in (ROOT / script).read_text().splitlines():
        words = shlex.split(line, comments=True)
        while words and (re.fullmatch(r"\w+=.*", words[0]) or words[0] == "exec"):
            words = words[1:]
        if words[:1] == ["flowdb"]:
            calls.append(words[1:])
    return calls


@dataclass
class Service:
    name: str
    spec: dict[str, Any]
    image: Image | None
    component: Component | None

    @property
    def env(self) -> dict[str, str]:
        image_env = dict(self.image.env) if self.image else {}
        own = {k: str(interpolate(v)) for k, v in (self.spec.get("environment") or {}).items()}
        return {**image_env, **own}

    @property
    def secrets(self) -> dict[str, str]:
        """Mount name (under /run/secrets) -> top-level secret."""
        out = {}
        for s in self.spec.get("secrets") or []:
            if isinstance(s, str):
                out[s] = s
            else:
                out[Path(s.get("target") or s["source"]).name] = s["source"]
        return out

    @property
    def command(self) -> list[str]:
        if "command" in self.spec:
            cmd = self.spec["command"]
            return [interpolate(a) for a in (shlex.split(cmd) if isinstance(cmd, str) else cmd)]
        if self.image is None:
            return []
        return self.image.entrypoint + self.image.cmd

    @property
    def healthcheck(self) -> list[str] | None:
        if "healthcheck" in self.spec:
            return list(self.spec["healthcheck"]["test"])
        return self.image.healthcheck if self.image else None

    @property
    def container_ports(self) -> list[int]:
        return [
            int(str(interpolate(p)).split(":")[-1].split("/")[0])
            for p in self.spec.get("ports", [])
        ]

    @property
    def mounts(self) -> list[tuple[str, str, bool]]:
        """(source, target, read-only) of each volume; a source starting with . or / is a host path."""
        out = []
        for v in self.spec.get("volumes") or []:
            if isinstance(v, str):
                source, target, *mode = str(interpolate(v)).split(":")
                out.append((source, target, "ro" in (mode[0].split(",") if mode else [])))
            else:
                out.append((interpolate(v["source"]), v["target"], bool(v.get("read_only"))))
        return out

    def host_path(self, container_path: str) -> Path | None:
        """Where a path inside the container comes from on the host (a bind mount), or None."""
        for source, target, _ in self.mounts:
            inside = Path(container_path)
            if inside == Path(target) or Path(target) in inside.parents:
                if not source.startswith((".", "/")):
                    return None  # a named volume
                return ROOT / source / inside.relative_to(target)
        return None

    @property
    def aliases(self) -> set[str]:
        networks = self.spec.get("networks") or {}
        names = {self.name}
        if isinstance(networks, dict):
            for net in networks.values():
                names |= set((net or {}).get("aliases") or [])
        return names


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Service]:
    out = {}
    for name, spec in compose["services"].items():
        image = None
        if "build" in spec:
            build = spec["build"]
            dockerfile = ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
            assert dockerfile.is_file(), (
                f"service {name}: build.dockerfile {dockerfile} does not exist"
            )
            image = parse_dockerfile(dockerfile, build.get("target"))
        out[name] = Service(name, spec, image, COMPONENTS.get(name))
    return out


@pytest.fixture(scope="module")
def secret_values(
    compose: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """A value for every top-level secret, made by the script the docs tell operators to run."""
    spec = importlib.util.spec_from_file_location(
        "compose_secrets", ROOT / "scripts" / "compose_secrets.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    directory = tmp_path_factory.mktemp("made-secrets")
    module.make_secrets(directory)
    values = {}
    for name, secret in compose.get("secrets", {}).items():
        made = directory / Path(secret["file"]).name
        assert made.is_file(), (
            f"secret {name}: scripts/compose_secrets.py does not make {Path(secret['file']).name}"
        )
        values[name] = made.read_text()
    return values


@pytest.fixture(scope="module")
def running(
    services: dict[str, Service], secret_values: dict[str, str], tmp_path_factory
) -> dict[str, Running]:
    """Each of our services' settings, built by its own code from what the deployment gives it."""
    out = {}
    for name, service in services.items():
        if service.component is None:
            continue
        secrets_dir = tmp_path_factory.mktemp(f"secrets-{name}")
        for mount, source in service.secrets.items():
            (secrets_dir / mount).write_text(secret_values[source])
        argv = strip_wrappers(service.command)
        env = dict(service.env)
        in_image = (set(service.image.copies) | service.image.built) if service.image else set()
        for var, value in env.items():  # a file the image carries: here, a stand-in that exists
            if value in in_image:
                stand_in = tmp_path_factory.mktemp(f"image-{name}") / Path(value).name
                stand_in.write_text("")
                env[var] = str(stand_in)
        try:
            out[name] = service.component.run(env, secrets_dir, argv, service.image)
        except (Exception, SystemExit) as exc:  # a missing or bad setting: say which service
            pytest.fail(f"service {name}: its settings refuse the deployment's environment: {exc}")
    return out


# -- the checks --------------------------------------------------------------------------------------------
def test_every_service_is_known(services):
    unknown = set(services) - set(COMPONENTS) - {"redis"}
    assert not unknown, (
        f"services without a drift check: {sorted(unknown)} (add them to COMPONENTS)"
    )


def test_environment_names_are_read_by_the_code(services):
    problems = []
    for name, service in services.items():
        if service.component is None:
            continue
        read = env_names_read(*service.component.settings_modules) | service.component.extra_names()
        compose_env = {
            n
            for n in service.spec.get("environment") or {}
            if not service.component.library_setting(n)
        }
        image_env = set(service.image.env) if service.image else set()
        for var in sorted(compose_env - read):
            problems.append(f"{name}: docker-compose.yml sets {var}, which its code never reads")
        for var in sorted(image_env - read - RUNTIME_ENV):
            problems.append(f"{name}: its Dockerfile sets ENV {var}, which its code never reads")
    assert not problems, "\n".join(problems)


def _fingerprint(value: Any) -> Any:
    """Comparable form of a settings value: text, or the public half of an RSA key as PEM."""
    if hasattr(value, "private_numbers"):
        value = value.public_key()
    if hasattr(value, "public_numbers"):
        return value.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
    if isinstance(value, bytes):
        return value.decode()
    return value


def _secret_fingerprint(text: str) -> str:
    if "PRIVATE KEY" in text:
        return _fingerprint(serialization.load_pem_private_key(text.encode(), None))
    if "PUBLIC KEY" in text:
        return _fingerprint(serialization.load_pem_public_key(text.encode()))
    return text.strip()


def test_every_secret_reaches_the_setting_of_its_name(services, running, secret_values):
    problems = []
    for name, service in services.items():
        for mount, source in service.secrets.items():
            if source not in secret_values:
                problems.append(f"{name}: secret {source} is not defined at the top level")
                continue
            if name not in running:  # not our code (redis): its command must read the file
                used = json.dumps([service.command, service.healthcheck])
                if SECRETS_MOUNT + mount not in used:
                    problems.append(f"{name}: secret {mount} is mounted but never read")
                continue
            values = [
                _fingerprint(getattr(obj, f.name))
                for obj in running[name].settings
                if is_dataclass(obj)
                for f in fields(obj)
            ]
            if _secret_fingerprint(secret_values[source]) not in values:
                problems.append(
                    f"{name}: secret {mount} is mounted but its settings do not read /run/secrets/{mount}"
                )
    assert not problems, "\n".join(problems)


def test_secrets_are_files_that_git_ignores(compose):
    ignore = (ROOT / ".gitignore").read_text().splitlines()
    assert "secrets/*" in ignore and "!secrets/README.md" in ignore
    for name, secret in compose.get("secrets", {}).items():
        assert Path(secret["file"]).parent == Path("secrets"), (
            f"secret {name}: keep it in ./secrets/"
        )


def listen_port(service: Service, running: dict[str, Running]) -> int:
    return running[service.name].port if service.name in running else REDIS_PORT


def test_ports_are_the_ones_the_services_listen_on(services, running):
    problems = []
    for name, service in services.items():
        port = listen_port(service, running)
        if name in running and running[name].address in ("127.0.0.1", "localhost", "::1"):
            problems.append(
                f"{name}: listens on {running[name].address} only, unreachable from others"
            )
        for published in service.container_ports:
            if published != port:
                problems.append(f"{name}: publishes container port {published}, listens on {port}")
        if service.image and service.image.expose != ([] if port is None else [port]):
            problems.append(f"{name}: Dockerfile EXPOSEs {service.image.expose}, listens on {port}")
    assert not problems, "\n".join(problems)


def test_commands_are_console_scripts_the_cli_accepts(services):
    for name, service in services.items():
        if service.component is None:
            continue
        folder = service.component.folder
        argv = strip_wrappers(service.command)
        assert argv, f"{name}: no CMD"
        if argv[0] in console_scripts(folder):
            check_cli(folder, argv)
            continue
        calls = flowdb_invocations(argv, service.image)
        assert calls, (
            f"{name}: {argv[0]} is neither a console script of {folder} nor a script of them"
        )
        for call in calls:
            check_cli(folder, ["flowdb", *call])
        assert calls[-1][:2] == ["start", "--foreground"], (
            f"{name}: its script must end by serving in the foreground"
        )


def test_health_checks_use_existing_executables_and_the_right_port(services, running):
    known_ports = {listen_port(s, running) for s in services.values()}
    problems = []
    for name, service in services.items():
        check = service.healthcheck
        if not check:
            problems.append(
                f"{name}: no health check (compose healthcheck or Dockerfile HEALTHCHECK)"
            )
            continue
        base = service.image.base if service.image else service.spec["image"]
        allowed = next(v for k, v in BASE_IMAGE_EXECUTABLES.items() if base.startswith(k))
        if service.component:
            allowed = allowed | set(console_scripts(service.component.folder))
        kind, *argv = check
        if kind == "CMD-SHELL" or argv[:2] == ["sh", "-c"]:
            script = argv[-1]
            commands = [shlex.split(part) for part in re.split(r"&&|\|\||\||;", script)]
            exes = [
                next(w for w in words if not re.fullmatch(r"\w+=.*", w))
                for words in commands
                if words
            ]
        else:
            exes = [argv[0]]
        problems += [
            f"{name}: health check runs {exe!r}, not in the image"
            for exe in exes
            if exe not in allowed
        ]
        ports = {int(p) for p in re.findall(r"(?<![\w.])(\d{4,5})(?![\w.])", json.dumps(check))}
        port = listen_port(service, running)
        if port is None and ports:
            problems.append(
                f"{name}: health check probes ports {sorted(ports)}, it listens on none"
            )
        elif port is not None and (port not in ports or ports & known_ports - {port}):
            problems.append(
                f"{name}: health check probes ports {sorted(ports)}, service listens on {port}"
            )
    assert not problems, "\n".join(problems)


def test_images_do_not_run_as_root(services):
    for name, service in services.items():
        if service.image is not None:
            assert service.image.user not in ("root", "0"), f"{name}: the image runs as root"


def test_depends_on_targets_exist_and_are_healthy(services):
    for name, service in services.items():
        for target, how in (service.spec.get("depends_on") or {}).items():
            assert target in services, f"{name}: depends_on {target}, which is not a service"
            assert how.get("condition") == "service_healthy", (
                f"{name} -> {target}: wait for healthy"
            )
            assert services[target].healthcheck, f"{name} -> {target}: {target} has no health check"


def _active(services: dict[str, Service], profile: str) -> dict[str, Service]:
    return {
        n: s
        for n, s in services.items()
        if not s.spec.get("profiles") or profile in s.spec["profiles"]
    }


@pytest.mark.parametrize("profile", ["core", "synthetic"])
def test_each_profile_runs_exactly_one_flowdb_that_clients_reach(
    services, running, secret_values, profile
):
    active = _active(services, profile)
    flowdbs = [s for s in active.values() if s.component and s.component.folder == "flowdb"]
    assert len(flowdbs) == 1, f"profile {profile}: {len(flowdbs)} FlowDB services"
    db = running[flowdbs[0].name].settings[0]
    machine_settings, server = running["flowmachine"].settings
    api = running["flowapi"].settings[0]
    auth = running["flowauth"].settings[0]
    assert {machine_settings.flowdb_host, api.flowdb_host} <= flowdbs[0].aliases
    assert machine_settings.flowdb_port == api.flowdb_port == db.port
    assert (machine_settings.flowdb_user, machine_settings.flowdb_password) == (
        "flowmachine",
        db.flowmachine_password,
    ), "FlowMachine's FlowDB credentials differ from the ones FlowDB sets"
    assert (api.flowdb_user, api.flowdb_password) == (db.flowapi_user, db.flowapi_password)
    assert machine_settings.flowdb_database == api.flowdb_database == "flowdb"
    assert machine_settings.redis_host in active and machine_settings.redis_port == REDIS_PORT
    redis = active[machine_settings.redis_host]
    redis_secret = redis.secrets.get("REDIS_PASSWORD")
    assert (
        redis_secret and machine_settings.redis_password == secret_values[redis_secret].strip()
    ), "FlowMachine's REDIS_PASSWORD is not the secret Redis is started with"
    assert api.flowmachine_host in active["flowmachine"].aliases
    assert api.flowmachine_port == server.port
    assert _fingerprint(api.public_jwt_signing_key) == _fingerprint(auth.private_jwt_signing_key), (
        "FlowAPI's public key is not the public half of FlowAuth's signing key"
    )
    from flowdb.settings import FLOWETL_ROLE

    etl = running["flowetl"].settings[0]
    assert etl.flowdb_host in flowdbs[0].aliases and etl.flowdb_port == db.port
    assert (etl.flowdb_user, etl.flowdb_password) == (FLOWETL_ROLE, db.flowetl_password), (
        "FlowETL's FlowDB credentials differ from the ones FlowDB gives its `flowetl` role"
    )
    for service in active.values():
        for target, how in (service.spec.get("depends_on") or {}).items():
            assert target in active or how.get("required") is False, (
                f"profile {profile}: {service.name} depends on inactive {target}"
            )


def test_flowetl_reads_its_config_and_landing_files_from_mounts(services, running):
    """The config `flowetl serve` is given is a file mounted from the repository (or FLOWETL_CONFIG_DIR) that
    `flowetl check-config` accepts; each file source's folder is mounted; FlowETL's home is a writable volume."""
    from flowetl.cli import main as flowetl_main
    from flowetl.config import FileSource, load_config

    service, cli = services["flowetl"], running["flowetl"].extra["cli"]
    config_file = service.host_path(cli.config)
    assert config_file is not None and config_file.is_file(), (
        f"flowetl: --config {cli.config} is not a file mounted from the host ({service.mounts})"
    )
    assert flowetl_main(["check-config", "--config", str(config_file)]) == 0
    config = load_config(config_file)
    for cdr_type in cli.cdr_type or config.cdr_types:
        source = config.source(cdr_type).source
        if isinstance(source, FileSource):
            folder = str(Path(source.path).parent)
            landing = service.host_path(folder)
            assert landing is not None and landing.is_dir(), (
                f"flowetl: {cdr_type} files are read from {folder}, which is not a mounted host folder"
            )
    home = running["flowetl"].extra["home"]
    assert home and any(
        target == home and not read_only and not source.startswith((".", "/"))
        for source, target, read_only in service.mounts
    ), f"flowetl: FLOWETL_HOME ({home}) must be a writable named volume (Prefect's state)"


def test_autoflow_reads_its_workflows_from_a_mount_and_writes_to_volumes(services, running):
    """AutoFlow's inputs folder is mounted from the repository (or AUTOFLOW_INPUTS_DIR), read-only, with a
    workflows.yml that `autoflow check-config` accepts; its outputs (notebooks, PDFs, the SQLite run table) and
    its home (Prefect's state) are writable named volumes, so nothing is lost when the container is replaced."""
    from autoflow.cli import main as autoflow_main

    service, settings = services["autoflow"], running["autoflow"].settings[0]
    workflows = service.host_path(str(settings.workflows_file))
    assert workflows is not None and workflows.is_file(), (
        f"autoflow: {settings.workflows_file} is not a file mounted from the host ({service.mounts})"
    )
    assert any(
        target == str(settings.inputs_dir) and read_only for _, target, read_only in service.mounts
    ), f"autoflow: AUTOFLOW_INPUTS_DIR ({settings.inputs_dir}) should be mounted read-only"
    assert autoflow_main(["check-config", str(workflows)]) == 0
    for what, path in (
        ("AUTOFLOW_OUTPUTS_DIR", settings.outputs_dir),
        ("AUTOFLOW_HOME", settings.home),
    ):
        assert any(
            target == str(path) and not read_only and not source.startswith((".", "/"))
            for source, target, read_only in service.mounts
        ), f"autoflow: {what} ({path}) must be a writable named volume"


def test_admin_guide_documents_every_environment_variable() -> None:
    """docs/admin-guide.md names every variable a service's settings read (the same lists as above)."""
    guide = (ROOT / "docs" / "admin-guide.md").read_text()
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", guide))
    sysconf = {"SC_PAGE_SIZE", "SC_PHYS_PAGES"}  # os.sysconf names the tuning reads, not variables
    missing = {
        name: sorted(
            (env_names_read(*component.settings_modules) | component.extra_names())
            - documented
            - RUNTIME_ENV
            - sysconf
        )
        for name, component in COMPONENTS.items()
    }
    assert {k: v for k, v in missing.items() if v} == {}, "undocumented in docs/admin-guide.md"
