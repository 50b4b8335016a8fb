"""FlowAuth in a real browser (Chromium driven by Playwright) against a real FlowDB + Redis + FlowMachine + FlowAPI.

The scenario, in order (the steps share one browser and one FlowAuth, so they are one test):
1. the admin signs in; creates a server from FlowAPI's spec (fetched by URL), a role `analysts` with scopes
   picked in the scope picker (the whole spatial_aggregate group, run, get_result, get_available_dates), a role
   `lookup` without any spatial_aggregate scope, and a user `analyst` holding both with "require two-factor";
2. the analyst signs in and is forced through the two-factor wizard (TOTP codes from the QR's data-secret),
   signs out, and signs in again with a TOTP code;
3. the analyst mints a token with `analysts` in the token builder and reads it from the page: with flowclient it
   runs a spatial aggregate of daily locations through FlowAPI and gets rows; a token minted with `lookup` only
   is refused by FlowAPI for the same query.

Every page visited is saved as a screenshot in $FLOWAUTH_ARTEFACTS (default `<repo>/.artefacts/flowauth/`).
Skipped only when /usr/bin/chromium is missing (`make deps` installs Debian's chromium).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
import re
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pyotp
import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric import rsa

import flowclient
from flowauth.api_spec import origin
from flowauth.app import create_app
from flowauth.db import Database
from flowauth.settings import Settings as FlowAuthSettings
from flowauth.settings import new_secret_key
from flowclient.errors import FlowclientConnectionError
from flowdb.cluster import Cluster
from flowdb.testing import free_port, private_redis, scratch_directory, temporary_cluster
from flowmachine.testing import load_fixture_data

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = Path(os.environ.get("FLOWAUTH_ARTEFACTS") or REPO / ".artefacts" / "flowauth")

SERVER_NAME = (
    "browser-flowapi"  # FlowAPI's identifier: FlowAuth's server name and the tokens' audience
)
ADMIN = ("browser_admin", "Orchid-Glacier-Falcon-37")
ANALYST = ("browser_analyst", "Meadow-Copper-Lantern-84")
DATE = "2016-03-01"  # a day of the fixture data's generated part (400 subscribers)
QUERY_SCOPES = [
    "admin3:spatial_aggregate:spatial_aggregate",
    "admin3:spatial_aggregate:daily_location",
]
TIMEOUT_MS = 20_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is missing (make deps installs it: apt chromium)",
)


# ---------------------------------------------------------------- the stack: FlowDB, Redis, FlowMachine, FlowAPI


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with scratch_directory("flowauth-browser-") as root:
        yield root


@pytest.fixture(scope="module")
def cluster(scratch: Path) -> Iterator[Cluster]:
    with temporary_cluster(scratch) as started:
        with started.connect() as conn:
            load_fixture_data(conn)
        yield started


@pytest.fixture(scope="module")
def redis_port(scratch: Path) -> Iterator[int]:
    with private_redis(scratch / "redis") as port:
        yield port


@pytest.fixture(scope="module")
def flowmachine_port(cluster: Cluster, redis_port: int) -> Iterator[int]:
    """A FlowMachine ZeroMQ server in a thread of this process."""
    from flowmachine.testing import server_in_thread, settings_for

    with server_in_thread(settings_for(cluster, redis_port)) as server:
        yield server.settings.port


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    """FlowAuth signs with it; FlowAPI checks with its public half."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def flowapi_url(
    cluster: Cluster, flowmachine_port: int, signing_key: rsa.RSAPrivateKey
) -> Iterator[str]:
    """FlowAPI under hypercorn in a thread of this process, identified as SERVER_NAME."""
    from hypercorn.asyncio import serve

    from flowapi import Settings as FlowAPISettings
    from flowapi import create_app as create_flowapi
    from flowapi.main import hypercorn_config

    settings = FlowAPISettings(
        public_jwt_signing_key=signing_key.public_key(),
        flowapi_identifier=SERVER_NAME,
        flowmachine_host="127.0.0.1",
        flowmachine_port=flowmachine_port,
        flowdb_host="127.0.0.1",
        flowdb_port=cluster.status().port,
        flowdb_user="flowapi",
        flowdb_password=cluster.settings.role_password("flowapi"),
        zmq_timeout_seconds=30,
        db_pool_size=2,
    )
    settings = dataclasses.replace(settings, bind_address="127.0.0.1", port=free_port())
    app = create_flowapi(settings)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve(app, hypercorn_config(settings), shutdown_trigger=stop.wait))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{settings.port}"
    _wait_for(f"{url}/api/0/spec/openapi.json", "FlowAPI")
    yield url
    loop.call_soon_threadsafe(stop.set)
    thread.join(timeout=10)


# ---------------------------------------------------------------- FlowAuth, served for real


@pytest.fixture(scope="module")
def flowauth_url(scratch: Path, signing_key: rsa.RSAPrivateKey, flowapi_url: str) -> Iterator[str]:
    """FlowAuth (a fresh SQLite database, ADMIN ensured at start, allowed to fetch FlowAPI's spec) under werkzeug
    in a background thread."""
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in the test's log

    settings = FlowAuthSettings(
        private_jwt_signing_key=signing_key,
        fernet_key=Fernet.generate_key(),
        secret_key=new_secret_key(),
        admin_username=ADMIN[0],
        admin_password=ADMIN[1],
        db_uri=f"sqlite:///{scratch / 'flowauth.db'}",
        sign_in_max_failures=50,
        spec_url_origins=frozenset({origin(flowapi_url)}),
        two_factor_valid_window=1,  # a code typed just as its 30 s step ends still counts
    )
    database = Database(settings.db_uri)
    app = create_app(settings, database=database)
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    _wait_for(f"{url}/version", "FlowAuth")
    yield url
    server.shutdown()
    thread.join(timeout=10)
    database.dispose()


def _wait_for(url: str, what: str) -> None:
    for _ in range(200):
        try:
            httpx.get(url, timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start ({url})")


# ---------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def artefacts() -> Path:
    """The screenshot folder, emptied of the last run's screenshots."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTEFACTS.glob("*.png"):
        old.unlink()
    return ARTEFACTS


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        yield launched
        launched.close()


class Visit:
    """One browser context (a user's window) that saves a screenshot of each page it shows."""

    counter = 0

    def __init__(self, browser: Any, base_url: str, who: str) -> None:
        self.context = browser.new_context(
            base_url=base_url,
            viewport={"width": 1280, "height": 900},
            permissions=["clipboard-read", "clipboard-write"],
        )
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.who = who
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def shot(self, name: str) -> Path:
        Visit.counter += 1
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTEFACTS / f"{Visit.counter:02d}-{self.who}-{name}.png"
        self.page.evaluate(
            "window.scrollTo(0, 0)"
        )  # else a full-page shot draws the sticky header mid-page
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000, path
        return path

    def close(self) -> None:
        self.context.close()


def _expect() -> Any:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    return expect


def sign_in(visit: Visit, username: str, password: str, code: str | None = None) -> None:
    page = visit.page
    page.goto("/")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    visit.shot("sign-in")
    page.locator("#signin").click()
    if code is not None:
        field = page.locator("#two_factor_code")
        _expect()(field).to_be_visible()
        visit.shot("sign-in-two-factor")
        field.fill(code)
        page.locator("#signin").click()


def sign_out(visit: Visit) -> None:
    visit.page.locator("#logout").click()
    _expect()(visit.page.locator("#signin")).to_be_visible()
    visit.shot("signed-out")


def api_get(visit: Visit, path: str) -> Any:
    """A GET of FlowAuth's JSON API with the browser's session (to learn ids the forms are keyed on)."""
    reply = visit.page.request.get(path, headers={"Accept": "application/json"})
    assert reply.ok, f"GET {path}: {reply.status} {reply.text()}"
    return reply.json()


def next_totp(totp: pyotp.TOTP, used: list[int]) -> str:
    """A TOTP code of a time step FlowAuth has not accepted yet (it refuses a replayed step): the current
    step's, or else the next step's, which the valid window of 1 accepts (a phone whose clock runs a little
    ahead). Either stays inside the window if the step changes before FlowAuth checks it."""

    def now() -> int:
        return totp.timecode(dt.datetime.now(dt.UTC))

    step = max([now(), *(s + 1 for s in used)])
    while step > now() + 1:  # only a third code within one step has to wait
        time.sleep(1)
    used.append(step)
    return totp.generate_otp(step)


# ---------------------------------------------------------------- the scenario


def test_admin_sets_up_analyst_who_mints_a_token_flowapi_accepts(
    browser: Any,
    flowauth_url: str,
    flowapi_url: str,
    signing_key: rsa.RSAPrivateKey,
    artefacts: Path,
) -> None:
    expect = _expect()

    # -- 1. the admin: server, roles, user
    admin = Visit(browser, flowauth_url, "admin")
    page = admin.page
    sign_in(admin, *ADMIN)
    expect(page.locator("#logout")).to_be_visible()
    expect(page.locator("#flowauth_version")).to_contain_text("FlowAuth")
    admin.shot("home")

    page.locator("#server_list").click()
    expect(page.locator("#new")).to_be_visible()
    admin.shot("servers")
    page.locator("#new").click()
    page.locator("#spec_url").fill(flowapi_url)
    admin.shot("server-new")
    page.locator("#fetch_spec").click()
    expect(page.locator("#name")).to_have_value(SERVER_NAME)
    page.locator("#max-life").fill("1440")
    admin.shot("server-from-spec")
    page.locator("#save").click()
    server_row = page.locator(f'[data-action=edit][data-item-name="{SERVER_NAME}"]')
    expect(server_row).to_be_visible()
    admin.shot("servers-saved")
    server = next(s for s in api_get(admin, "/admin/servers") if s["name"] == SERVER_NAME)
    published = httpx.get(f"{flowapi_url}/api/0/spec/openapi.json").json()
    published_scopes = published["components"]["securitySchemes"]["token"]["x-security-scopes"]
    stored = api_get(admin, f"/admin/servers/{server['id']}/scopes")
    assert len(stored) == len(published_scopes)

    def new_role(name: str, pick: Any) -> None:
        page.locator("#role_admin").click()
        expect(page.locator("#new")).to_be_visible()
        admin.shot(f"roles-before-{name}")
        page.locator("#new").click()
        page.locator("#server").select_option(label=SERVER_NAME)
        page.locator("#name").fill(name)
        page.locator("#lifetime").fill("120")
        expect(page.locator("#scope_picker")).to_be_visible()
        pick()
        admin.shot(f"role-{name}")
        page.locator("#save").click()
        expect(page.locator(f'[data-action=edit][data-item-name="{name}"]')).to_be_visible()

    picker = page.locator("#scope_picker")

    def tick_simple(*scopes: str) -> None:
        for scope in scopes:
            picker.locator(f'[data-cy="scope-item-{scope}"]').check()

    def pick_analysts() -> None:
        group = picker.locator("[data-cy=nested-spatial_aggregate]")
        group.locator("[data-cy=checkbox]").first.check()
        for scope in QUERY_SCOPES:
            expect(picker.locator(f'[data-scope="{scope}"]')).to_be_checked()
        tick_simple("run", "get_result", "get_available_dates")

    def pick_lookup() -> None:
        tick_simple("run", "get_result", "get_available_dates")
        # issue 21: the role form's privacy limits (checked as the API checks them)
        page.locator("#max_epsilon").fill("3")
        page.locator("#epsilon_budget").fill("2")
        expect(page.locator("#save")).to_be_disabled()
        page.locator("#max_epsilon").fill("0.5")

    new_role("analysts", pick_analysts)
    new_role("lookup", pick_lookup)
    admin.shot("roles-saved")
    roles = {r["name"]: r for r in api_get(admin, f"/admin/servers/{server['id']}/roles")}
    analysts_scopes = _scope_names(api_get(admin, f"/roles/{roles['analysts']['id']}/scopes"))
    assert set(QUERY_SCOPES) | {"run", "get_result", "get_available_dates"} <= analysts_scopes
    assert not any(
        "spatial_aggregate" in s
        for s in _scope_names(api_get(admin, f"/roles/{roles['lookup']['id']}/scopes"))
    )

    page.locator("#user_list").click()
    expect(page.locator("#new")).to_be_visible()
    admin.shot("users")
    page.locator("#new").click()
    page.locator("#username").fill(ANALYST[0])
    page.locator("#password").fill(ANALYST[1])
    page.locator("#require_two_factor").check()
    for name in ("analysts", "lookup"):
        page.locator(f'[data-role-id="{roles[name]["id"]}"]').check()
    admin.shot("user-new")
    page.locator("#save").click()
    expect(page.locator(f'[data-action=edit][data-item-name="{ANALYST[0]}"]')).to_be_visible()
    admin.shot("users-saved")
    sign_out(admin)
    assert not admin.errors, admin.errors
    admin.close()

    # -- 2. the analyst: forced two-factor setup, then a sign-in with a TOTP code
    analyst = Visit(browser, flowauth_url, "analyst")
    page = analyst.page
    sign_in(analyst, *ANALYST)
    codes = page.locator("[data-cy=backup_code]")
    expect(codes.first).to_be_visible()
    assert codes.count() == 16
    submit = page.locator("[data-button-id=submit]")
    expect(submit).to_be_disabled()
    analyst.shot("two-factor-backup-codes")
    page.locator("[data-button-id=copy]").click()
    expect(submit).to_be_enabled()
    submit.click()
    qr = page.locator("[data-id=qr_code]")
    expect(qr).to_be_visible()
    analyst.shot("two-factor-qr")
    secret = qr.get_attribute("data-secret")
    assert secret
    totp = pyotp.TOTP(secret.split(".")[0])
    used: list[int] = []
    page.locator("#two_factor_code_setup").fill(next_totp(totp, used))
    page.locator("#confirm_two_factor").click()
    expect(page.locator("#logout")).to_be_visible()
    analyst.shot("home-after-two-factor")
    sign_out(analyst)

    sign_in(analyst, *ANALYST, code=next_totp(totp, used))
    expect(page.locator("#logout")).to_be_visible()
    expect(page.locator("#user_list")).to_have_count(0)  # no admin menu for the analyst
    analyst.shot("home")

    # -- 3. tokens from the token builder, used with flowclient
    def mint(name: str, role: str) -> str:
        page.locator(f'[data-server-name="{SERVER_NAME}"]').first.click()
        expect(page.locator("#new")).to_be_visible()
        analyst.shot(f"tokens-before-{name}")
        page.locator("#new").click()
        page.locator("#name").fill(name)
        page.locator(f'[data-role-name="{role}"]').check()
        page.locator("#lifetime_minutes").fill("60")
        analyst.shot(f"token-builder-{name}")
        page.locator("#save").click()
        shown = page.locator("#new_token")
        expect(shown).to_be_visible()
        expect(page.locator(f'[data-token-name="{name}"]')).to_be_visible()
        analyst.shot(f"token-{name}")
        text = shown.inner_text().strip()
        assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", text), text
        return text

    query_token = mint("browser_query", "analysts")
    lookup_token = mint("browser_lookup", "lookup")
    assert not analyst.errors, analyst.errors
    analyst.close()

    claims = jwt.decode(
        query_token, signing_key.public_key(), algorithms=["RS256"], audience=SERVER_NAME
    )
    assert claims["sub"] == ANALYST[0]
    assert claims["exp"] - claims["iat"] <= 60 * 60  # the lifetime asked for in the builder
    assert "privacy" not in claims
    lookup_claims = jwt.decode(lookup_token, options={"verify_signature": False})
    assert lookup_claims["privacy"] == {"max_epsilon_per_query": 0.5, "epsilon_budget": 2.0}

    locations = flowclient.daily_location_spec(date=DATE, aggregation_unit="admin3", method="last")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # plain http on loopback: flowclient's NOT SECURE warning
        conn = flowclient.connect(url=flowapi_url, token=query_token)
        refused = flowclient.connect(url=flowapi_url, token=lookup_token)
    try:
        assert conn.user == ANALYST[0]
        assert DATE in flowclient.get_available_dates(connection=conn)["calls"]
        rows = flowclient.spatial_aggregate(connection=conn, locations=locations).get_result(
            disable_progress=True
        )
        assert len(rows) > 0
        assert {"pcod", "value"} <= set(rows.columns)
        with pytest.raises(FlowclientConnectionError, match="User claims verification failed"):
            flowclient.spatial_aggregate(connection=refused, locations=locations).run()
    finally:
        conn.close()
        refused.close()
    assert Visit.counter >= 25  # every page above was saved (each checked as written)


def _scope_names(scopes: Any) -> set[str]:
    """`/roles/<id>/scopes` as a set of names, whether it lists names or {name, ...} objects."""
    return {s["name"] if isinstance(s, dict) else s for s in scopes}
