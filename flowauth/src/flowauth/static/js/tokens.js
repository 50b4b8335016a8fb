// A server's tokens page: the caller's active and expired tokens (copy, view, download, renew) and the
// token builder (name, roles, optional lifetime).

import { get, guard, post } from "./api.js";
import { aboutMinutes, add, button, checkbox, copyWithFeedback, download, field, fill, h, infoDialog, nameProblem, parseApiDate, positiveInt, relative, safeId, showDate, showError, showMinutes } from "./dom.js";

/** The latest expiry a cap allows: min(latest_token_expiry, now + longest life). */
function capEnd(latest, lifeMinutes, now) {
  const relativeEnd = Number.isFinite(Number(lifeMinutes)) ? new Date(now.getTime() + Number(lifeMinutes) * 60000) : null;
  const absolute = parseApiDate(latest);
  if (absolute && relativeEnd) return absolute < relativeEnd ? absolute : relativeEnd;
  return absolute || relativeEnd;
}

function roleNames(token) {
  return (token.roles || []).map((r) => (typeof r === "string" ? r : r.name)).filter(Boolean);
}

export async function render(container, ctx, serverId) {
  const [detail, myRoles, tokenList] = await Promise.all([
    get(`/tokens/servers/${serverId}`),
    get(`/user/roles/server/${serverId}`).catch(() => null),
    get(`/tokens/tokens/${serverId}`),
  ]);
  const serverName = detail.server_name || detail.name || `server ${serverId}`;
  const roles = (Array.isArray(myRoles) && myRoles.length ? myRoles : detail.roles || [])
    .map((r) => (typeof r === "string" ? { name: r } : r))
    .sort((a, b) => a.name.localeCompare(b.name));

  // ---- the new-token panel (shown after create or renew) ----
  const newTokenPanel = h("section", { class: "card new-token", hidden: true, "aria-labelledby": "new_token_title", tabindex: "-1" });
  function showNewToken(title, name, token) {
    const copy = button("Copy token", { class: "btn primary", id: "copy_new_token", "data-action": "copy-new", onclick: () => copyWithFeedback(token, "Token copied") });
    newTokenPanel.replaceChildren(
      h("h3", { id: "new_token_title", text: title }),
      h("p", { text: "Use this token with FlowClient or the FlowAPI. You can find it again in the list below until it expires." }),
      h("pre", { id: "new_token", class: "token-text", tabindex: "0", "aria-label": `Token ${name}`, text: token }),
      h("div", { class: "row" }, copy, button("Download", { onclick: () => download(`${name}.txt`, token) }), button("Hide", { onclick: () => { newTokenPanel.hidden = true; } })),
    );
    newTokenPanel.hidden = false;
    newTokenPanel.scrollIntoView({ block: "nearest" });
    copy.focus();
  }

  // ---- the token list ----
  const listArea = h("div", { id: "token_lists" });
  function drawTokens(list) {
    const now = new Date();
    const rows = list.map((t) => ({ ...t, expiry: parseApiDate(t.expires) }));
    const active = rows.filter((t) => !t.expiry || t.expiry > now).sort((a, b) => (b.expiry || 0) - (a.expiry || 0));
    const expired = rows.filter((t) => t.expiry && t.expiry <= now).sort((a, b) => b.expiry - a.expiry);
    const section = (id, title, items, empty) =>
      h(
        "section",
        { class: "token-section", "aria-labelledby": `${id}_title`, id },
        h("h3", { id: `${id}_title`, text: `${title} (${items.length})` }),
        items.length ? h("ul", { class: "token-list" }, items.map((t) => tokenRow(t, now))) : h("p", { class: "muted", text: empty }),
      );
    fill(listArea, 
      section("active_tokens", "Active tokens", active, "No active tokens. Use “New token” to create one."),
      expired.length ? section("expired_tokens", "Expired tokens", expired, "") : null,
    );
  }

  function tokenRow(t, now) {
    const expired = t.expiry && t.expiry <= now;
    const names = roleNames(t);
    const actions = [
      button("Copy", { "data-action": "copy", "aria-label": `Copy token ${t.name}`, onclick: () => copyWithFeedback(t.token, "Token copied") }),
      button("View", {
        "data-action": "view",
        "aria-label": `View token ${t.name}`,
        onclick: () =>
          infoDialog({
            id: "token-dialog",
            title: `Token ${t.name}`,
            body: h("pre", { class: "token-text", id: "token-dialog-text", tabindex: "0", text: t.token }),
            actions: [button("Copy", { onclick: () => copyWithFeedback(t.token, "Token copied") })],
          }),
      }),
      button("Download", { "data-action": "download", "aria-label": `Download token ${t.name} as ${t.name}.txt`, onclick: () => download(`${t.name}.txt`, t.token) }),
    ];
    if (names.length) {
      const renew = button("Renew", { "data-action": "renew", "aria-label": `Renew token ${t.name}`, title: "Issue a new token with the same name and roles" });
      renew.addEventListener(
        "click",
        guard(async () => {
          const answer = await post(`/tokens/tokens/${t.id}/renew`, {});
          showNewToken(`Renewed token ${t.name}`, t.name, answer.token);
          await reload();
        }, renew),
      );
      actions.push(renew);
    }
    return h(
      "li",
      { class: expired ? "token expired" : "token", "data-token-name": t.name, "data-token-id": t.id },
      h(
        "div",
        { class: "token-info" },
        h("strong", { class: "token-name", text: t.name }),
        h("span", { class: "token-expiry" }, expired ? "Expired " : "Expires ", h("time", { datetime: t.expires || "", text: showDate(t.expiry) }), t.expiry ? ` (${relative(t.expiry, now)})` : ""),
        h("span", { class: "caption", text: names.length ? `Roles: ${names.join(", ")}` : "Roles: not recorded" }),
      ),
      h("div", { class: "row actions-inline" }, actions),
    );
  }

  async function reload() {
    drawTokens(await get(`/tokens/tokens/${serverId}`));
  }

  // ---- the builder ----
  const newButton = button("New token", { id: "new", class: "btn primary", "aria-expanded": "false", "aria-controls": "token_builder" });
  const builder = h("section", { id: "token_builder", class: "card", hidden: true, "aria-labelledby": "builder_title" });
  const name = field({ label: "Token name", id: "name", name: "name", attrs: { autocomplete: "off", maxlength: "75", spellcheck: "false" }, help: "Letters, numbers and underscores, e.g. my_analysis_token." });
  const roleBoxes = roles.map((role) => {
    const caps = [];
    if (role.longest_token_life_minutes) caps.push(`tokens up to ${showMinutes(role.longest_token_life_minutes)}`);
    const roleEnd = parseApiDate(role.latest_token_expiry);
    if (roleEnd) caps.push(`until ${showDate(roleEnd)}`);
    if (role.expired) caps.push("its time limit has passed: it cannot be used for new tokens");
    if (role.epsilon_budget != null) caps.push(`differential privacy: epsilon up to ${role.max_epsilon_per_query} per query, ${role.epsilon_budget} in all`);
    const box = checkbox({ label: role.name, id: safeId("role_", role.name), name: "roles", attrs: { "data-role-name": role.name, value: role.name }, help: caps.join(", ") });
    return { role, ...box };
  });
  const selectAll = button("Select all", { id: "select_all", class: "btn small" });
  const rolesHelp = h("p", { class: "helper", id: "roles-helper", text: roles.length ? "The token may do what any of its roles allows." : "You have no roles on this server." });
  const rolesSet = h("fieldset", { class: "roles-set", "aria-describedby": "roles-helper" }, h("legend", { text: "Roles" }), h("div", { class: "row" }, selectAll), roleBoxes.map((b) => b.wrap), rolesHelp);
  const lifetime = field({ label: "Lifetime in minutes (optional)", id: "lifetime_minutes", name: "lifetime_minutes", type: "number", attrs: { min: "1", step: "1", inputmode: "numeric" } });
  const limit = h("p", { id: "max_expiry", class: "limit", role: "status" });
  const save = h("button", { type: "submit", id: "save", class: "btn primary", text: "Save" });
  const cancel = button("Cancel", { id: "cancel" });
  const form = h("form", { novalidate: true, class: "stack" }, name.wrap, rolesSet, lifetime.wrap, limit, h("div", { class: "actions" }, cancel, save));
  builder.append(h("h3", { id: "builder_title", text: "New token" }), form);

  function chosen() {
    return roleBoxes.filter((b) => b.input.checked);
  }

  /** The longest lifetime (minutes) and latest expiry the server and the chosen roles allow now. */
  function allowed() {
    const now = new Date();
    const ends = [capEnd(detail.latest_token_expiry, detail.longest_token_life_minutes, now)];
    const picked = chosen();
    for (const b of picked) ends.push(capEnd(b.role.latest_token_expiry, b.role.longest_token_life_minutes, now));
    const valid = ends.filter(Boolean);
    if (!valid.length) return null;
    const end = valid.reduce((a, b) => (a < b ? a : b));
    return { end, minutes: Math.floor((end - now) / 60000), withRoles: picked.length > 0 };
  }

  function updateLimit() {
    const cap = allowed();
    selectAll.textContent = roleBoxes.length && chosen().length === roleBoxes.length ? "Select none" : "Select all";
    if (!cap) {
      limit.textContent = "";
      return cap;
    }
    if (cap.minutes <= 0) {
      limit.textContent = "No token can be issued: the time limit of this server or of the chosen roles has passed. Ask an administrator.";
      limit.classList.add("error");
      return cap;
    }
    limit.classList.remove("error");
    limit.textContent = `${cap.withRoles ? "With the chosen roles, a" : "A"} token can live at most ${cap.minutes.toLocaleString()} minutes (${aboutMinutes(cap.minutes)}, until ${showDate(cap.end)}). Leave the lifetime empty to get the longest.`;
    lifetime.input.max = String(cap.minutes);
    return cap;
  }

  function checkName() {
    const problem = nameProblem(name.input.value, "Token name");
    name.setError(problem);
    return !problem;
  }

  function checkLifetime() {
    const raw = lifetime.input.value.trim();
    if (!raw) {
      lifetime.setError(null);
      return true;
    }
    const minutes = positiveInt(raw);
    if (!minutes) {
      lifetime.setError("The lifetime must be a whole number of minutes, 1 or more.");
      return false;
    }
    const cap = allowed();
    if (cap && minutes > cap.minutes) {
      lifetime.setError(`At most ${cap.minutes} minutes are allowed.`);
      return false;
    }
    lifetime.setError(null);
    return true;
  }

  name.input.addEventListener("input", checkName);
  lifetime.input.addEventListener("input", checkLifetime);
  roleBoxes.forEach((b) => b.input.addEventListener("change", () => { updateLimit(); checkLifetime(); }));
  selectAll.addEventListener("click", () => {
    const all = chosen().length !== roleBoxes.length;
    roleBoxes.forEach((b) => { b.input.checked = all; });
    updateLimit();
    checkLifetime();
  });

  function openBuilder(open) {
    builder.hidden = !open;
    newButton.setAttribute("aria-expanded", String(open));
    if (open) {
      newTokenPanel.hidden = true;
      form.reset();
      name.setError(null);
      lifetime.setError(null);
      updateLimit();
      name.input.focus();
    } else {
      newButton.focus();
    }
  }
  newButton.addEventListener("click", () => openBuilder(builder.hidden));
  cancel.addEventListener("click", () => openBuilder(false));

  form.addEventListener(
    "submit",
    guard(async (event) => {
      event.preventDefault();
      if (!checkName()) {
        name.input.focus();
        return;
      }
      const picked = chosen();
      if (!picked.length) {
        await showError("At least one role must be selected");
        return;
      }
      if (!checkLifetime()) {
        lifetime.input.focus();
        return;
      }
      const body = { name: name.input.value, roles: picked.map((b) => ({ name: b.role.name })) };
      const minutes = positiveInt(lifetime.input.value);
      if (minutes) body.lifetime_minutes = minutes;
      const answer = await post(`/tokens/tokens/${serverId}`, body);
      builder.hidden = true;
      newButton.setAttribute("aria-expanded", "false");
      showNewToken(`New token ${body.name}`, body.name, answer.token);
      await reload();
    }, save),
  );

  const limitsText = [];
  if (detail.longest_token_life_minutes) limitsText.push(`Tokens for this server live at most ${showMinutes(detail.longest_token_life_minutes)}`);
  const serverEnd = parseApiDate(detail.latest_token_expiry);
  if (serverEnd) limitsText.push(`and expire by ${showDate(serverEnd)} at the latest`);

  add(container, 
    ctx.heading(`Tokens: ${serverName}`),
    h("p", { class: "muted", text: limitsText.length ? `${limitsText.join(" ")}.` : "" }),
    h("div", { class: "toolbar" }, newButton),
    builder,
    newTokenPanel,
    listArea,
  );
  drawTokens(tokenList);
}
