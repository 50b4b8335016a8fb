// FlowAuth's single-page UI: sign-in, the forced two-factor setup, the shell (header, menu, "My servers")
// and a hash router (#/servers/3, #/admin/users...) that draws one page at a time into <main>.

import { ApiError, get, guard, post, report, setHooks } from "./api.js";
import { add, button, field, h, showError } from "./dom.js";
import { twoFactorWizard } from "./two_factor.js";
import * as tokens from "./tokens.js";
import * as account from "./account.js";
import * as users from "./admin_users.js";
import * as servers from "./admin_servers.js";
import * as roles from "./admin_roles.js";
import * as publicKey from "./public_key.js";

const root = document.getElementById("app");
const state = { user: null, myServers: [] };

// ---- version footer ----------------------------------------------------------------------------------------

async function loadVersion() {
  const label = document.getElementById("flowauth_version");
  try {
    const { version } = await get("/version", { signInCall: true });
    label.textContent = `FlowAuth v${version}`;
  } catch {
    // keep the version the page was served with
  }
}

// ---- sign-in -------------------------------------------------------------------------------------------------

function showSignIn(message = "") {
  state.user = null;
  document.title = "Sign in · FlowAuth";
  const username = field({ label: "Username", id: "username", name: "username", attrs: { autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" } });
  const password = field({ label: "Password", id: "password", name: "password", type: "password", attrs: { autocomplete: "current-password", required: true } });
  const code = field({
    label: "Two-factor code",
    id: "two_factor_code",
    name: "two_factor_code",
    attrs: { autocomplete: "one-time-code", autocapitalize: "none", spellcheck: "false" },
    help: "The code your authenticator app shows, or one of your backup codes.",
  });
  code.wrap.hidden = true;
  const notice = h("p", { id: "signin-message", class: message ? "notice" : "notice empty", role: "status", text: message });
  const submit = h("button", { type: "submit", id: "signin", class: "btn primary wide", text: "Sign in" });
  const form = h(
    "form",
    { id: "signin-form", class: "card signin", novalidate: true, "aria-labelledby": "signin-heading" },
    h("h1", { class: "brand", text: "FlowAuth" }),
    h("h2", { id: "signin-heading", text: "Sign in" }),
    notice,
    username.wrap,
    password.wrap,
    code.wrap,
    submit,
  );
  form.addEventListener(
    "submit",
    guard(async (event) => {
      event.preventDefault();
      const body = { username: username.input.value.trim(), password: password.input.value };
      if (!body.username || !body.password) {
        await showError("Enter your username and password.");
        (body.username ? password : username).input.focus();
        return;
      }
      if (!code.wrap.hidden) body.two_factor_code = code.input.value.replace(/\s+/g, "");
      let answer;
      try {
        answer = await post("/signin", body, { signInCall: true });
      } catch (err) {
        if (err instanceof ApiError && err.body.need_two_factor && code.wrap.hidden) {
          code.wrap.hidden = false;
          notice.textContent = "Two-factor authentication is on for this account: enter your code.";
          notice.classList.remove("empty");
          code.input.focus();
          return;
        }
        if (code.wrap.hidden === false) code.input.value = "";
        throw err;
      }
      await enter({ ...answer, username: body.username });
    }, submit),
  );
  const page = h("main", { class: "signin-page", id: "main" }, form);
  root.replaceChildren(page);
  username.input.focus();
}

async function signOut() {
  try {
    await post("/signout", {}, { signInCall: true });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) report(err);
  }
  history.replaceState(null, "", location.pathname); // the next person starts on the start page
  showSignIn("You have signed out.");
}

// ---- forced two-factor setup ----------------------------------------------------------------------------

async function showForcedWizard() {
  document.title = "Two-factor setup · FlowAuth";
  const page = h("main", { class: "wizard-page", id: "main" });
  root.replaceChildren(h("header", { class: "topbar" }, h("h1", { class: "brand", text: "FlowAuth" })), page);
  try {
    await twoFactorWizard(page, {
      forced: true,
      onDone: async () => {
        const me = await get("/is_signed_in");
        await enter(me);
      },
      onSignOut: signOut,
    });
  } catch (err) {
    report(err);
  }
}

// ---- the shell ---------------------------------------------------------------------------------------------

async function enter(me) {
  state.user = { username: me.username || state.user?.username || "", isAdmin: Boolean(me.is_admin) };
  if (me.require_two_factor_setup) {
    await showForcedWizard();
    return;
  }
  drawShell();
  await refreshServers();
  await route();
}

function navLink(id, href, text) {
  return h("li", {}, h("a", { id, href, "data-nav": href }, text));
}

function drawShell() {
  const admin = state.user.isAdmin;
  const toggle = button("Menu", { id: "menu_toggle", class: "btn ghost menu-toggle", "aria-expanded": "false", "aria-controls": "nav" });
  const nav = h(
    "nav",
    { id: "nav", class: "sidebar", "aria-label": "Main menu" },
    admin
      ? h(
          "div",
          { class: "nav-section" },
          h("h2", { text: "Admin" }),
          h(
            "ul",
            {},
            navLink("user_list", "#/admin/users", "Users"),
            navLink("server_list", "#/admin/servers", "Servers"),
            navLink("role_admin", "#/admin/roles", "Roles"),
            navLink("public_key", "#/admin/public_key", "Public key"),
          ),
        )
      : null,
    h("div", { class: "nav-section" }, h("h2", { id: "servers", text: "My servers" }), h("ul", { id: "my_servers", "aria-labelledby": "servers" })),
  );
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
  });
  nav.addEventListener("click", (event) => {
    const link = event.target.closest("a");
    if (link) {
      // a link to the page already shown draws it again (a refresh)
      if (link.getAttribute("href") === location.hash) {
        event.preventDefault();
        route();
      }
      toggle.setAttribute("aria-expanded", "false");
      nav.classList.remove("open");
    }
  });
  const header = h(
    "header",
    { class: admin ? "topbar admin" : "topbar" },
    toggle,
    h("h1", { class: "brand" }, h("a", { href: "#/", id: "home" }, "FlowAuth", admin ? h("span", { class: "mode", text: ": Admin Mode" }) : null)),
    h("span", { class: "who", id: "signed_in_as", text: state.user.username ? `Signed in as ${state.user.username}` : "" }),
    h("a", { id: "user_details", class: "btn ghost", href: "#/account", "data-nav": "#/account" }, "My account"),
    button("Sign out", { id: "logout", class: "btn ghost", onclick: signOut }),
  );
  const main = h("main", { id: "main", tabindex: "-1" });
  root.replaceChildren(h("a", { class: "skip", href: "#main", onclick: (e) => { e.preventDefault(); main.focus(); } }, "Skip to content"), header, h("div", { class: "layout" }, nav, main));
}

/** Reload "My servers" (after tokens or roles change). */
async function refreshServers() {
  const list = document.getElementById("my_servers");
  if (!list) return;
  try {
    state.myServers = await get("/tokens/servers");
  } catch (err) {
    report(err);
    return;
  }
  list.replaceChildren(
    ...(state.myServers.length
      ? state.myServers.map((s) => h("li", {}, h("a", { href: `#/servers/${s.id}`, "data-server-name": s.server_name, "data-nav": `#/servers/${s.id}` }, s.server_name)))
      : [h("li", { class: "muted", text: "No servers yet" })]),
  );
  markCurrent();
}

function markCurrent() {
  const hash = (location.hash || "#/").split("?")[0];
  for (const link of document.querySelectorAll("[data-nav]")) {
    const target = link.getAttribute("data-nav");
    const current = hash === target || hash.startsWith(`${target}/`);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// ---- routing -----------------------------------------------------------------------------------------------

function home(container, ctx) {
  const names = state.myServers;
  add(container, 
    ctx.heading(`Welcome${state.user.username ? `, ${state.user.username}` : ""}`),
    names.length
      ? h(
          "div",
          { class: "card" },
          h("p", { text: "Choose a server to see your tokens and create new ones:" }),
          h("ul", { class: "server-cards" }, names.map((s) => h("li", {}, h("a", { class: "btn", href: `#/servers/${s.id}` }, s.server_name)))),
        )
      : h("div", { class: "card" }, h("p", { text: "You do not have a role on any server yet, so you cannot create tokens. Ask an administrator to give you a role." })),
    state.user.isAdmin
      ? h("div", { class: "card" }, h("h3", { text: "Administration" }), h("p", { text: "Use the Admin menu to manage users, servers (FlowAPI instances), roles (what each token may do) and the public key FlowAPI needs." }))
      : null,
  );
}

const ROUTES = [
  [/^\/?$/, (c, ctx) => home(c, ctx)],
  [/^\/servers\/(\d+)$/, (c, ctx, m) => tokens.render(c, ctx, Number(m[1]))],
  [/^\/account$/, (c, ctx) => account.render(c, ctx)],
  [/^\/admin\/users$/, (c, ctx) => users.list(c, ctx)],
  [/^\/admin\/users\/new$/, (c, ctx) => users.form(c, ctx, null)],
  [/^\/admin\/users\/(\d+)$/, (c, ctx, m) => users.form(c, ctx, Number(m[1]))],
  [/^\/admin\/servers$/, (c, ctx) => servers.list(c, ctx)],
  [/^\/admin\/servers\/new$/, (c, ctx) => servers.form(c, ctx, null)],
  [/^\/admin\/servers\/(\d+)$/, (c, ctx, m) => servers.form(c, ctx, Number(m[1]))],
  [/^\/admin\/roles$/, (c, ctx) => roles.list(c, ctx)],
  [/^\/admin\/roles\/new$/, (c, ctx) => roles.form(c, ctx, null)],
  [/^\/admin\/roles\/(\d+)$/, (c, ctx, m) => roles.form(c, ctx, Number(m[1]))],
  [/^\/admin\/public_key$/, (c, ctx) => publicKey.render(c, ctx)],
];

let routeSeq = 0;

async function route() {
  const main = document.getElementById("main");
  if (!state.user || !main || !main.closest(".layout")) return;
  routeSeq += 1;
  const seq = routeSeq;
  const path = decodeURIComponent((location.hash || "#/").slice(1).split("?")[0]);
  const container = h("div", { class: "page" });
  main.replaceChildren(container);
  markCurrent();
  const ctx = {
    user: state.user,
    /** The page's heading (focused for screen readers) and the window title. */
    heading(text) {
      document.title = `${text} · FlowAuth`;
      const el = h("h2", { class: "page-title", tabindex: "-1", text });
      if (seq === routeSeq) queueMicrotask(() => { if (!document.querySelector("dialog[open]") && !main.contains(document.activeElement)) el.focus({ preventScroll: true }); });
      return el;
    },
    go(hash) {
      if (location.hash === hash) route();
      else location.hash = hash;
    },
    refreshServers,
    isCurrent: () => seq === routeSeq,
  };
  for (const [pattern, render] of ROUTES) {
    const match = path.match(pattern);
    if (match) {
      add(container, h("p", { class: "loading", role: "status", text: "Loading…" }));
      try {
        const loading = container.querySelector(".loading");
        const done = render(container, ctx, match);
        if (done && typeof done.then === "function") {
          await done.finally(() => loading.remove());
        } else {
          loading.remove();
        }
      } catch (err) {
        container.querySelector(".loading")?.remove();
        if (seq === routeSeq) {
          report(err);
          if (!container.querySelector(".page-title")) add(container, h("p", { class: "notice", text: "This page could not be loaded." }));
        }
      }
      return;
    }
  }
  add(container, ctx.heading("Page not found"), h("p", {}, "There is no page here. ", h("a", { href: "#/" }, "Go to the start page"), "."));
}

// ---- start -------------------------------------------------------------------------------------------------

async function start() {
  setHooks({
    sessionEnded: (message) => showSignIn(message),
    twoFactorSetupNeeded: () => showForcedWizard(),
  });
  window.addEventListener("hashchange", () => route());
  window.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    report(event.reason);
  });
  await loadVersion();
  let me = null;
  try {
    me = await get("/is_signed_in", { signInCall: true });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) report(err);
  }
  if (me && me.logged_in) await enter(me);
  else showSignIn();
}

start();
