// Admin: roles, grouped per server; the role form (server, name, expiry, lifetime, members, scope picker).

import { ApiError, del, get, guard, patch, post } from "./api.js";
import { add, checkbox, field, formatApiDate, fromLocalInput, h, nameProblem, parseApiDate, positiveInt, showDate, showMinutes, snackbar, toLocalInput } from "./dom.js";
import { listRows } from "./lister.js";
import { scopePicker } from "./scope_picker.js";

export async function list(container, ctx) {
  const [roles, servers] = await Promise.all([get("/roles/"), get("/admin/servers")]);
  const byServer = new Map(servers.map((s) => [s.id, { server: s, roles: [] }]));
  for (const role of roles) {
    if (!byServer.has(role.server)) byServer.set(role.server, { server: { id: role.server, name: `Server ${role.server}` }, roles: [] });
    byServer.get(role.server).roles.push(role);
  }
  const sections = [...byServer.values()]
    .sort((a, b) => a.server.name.localeCompare(b.server.name))
    .map(({ server, roles: serverRoles }) =>
      h(
        "section",
        { class: "card", "data-server-name": server.name, "aria-labelledby": `roles_of_${server.id}` },
        h("div", { class: "section-head" }, h("h3", { id: `roles_of_${server.id}`, text: server.name }), h("a", { class: "btn small", href: `#/admin/roles/new?server=${server.id}`, "aria-label": `New role on ${server.name}`, text: "New role here" })),
        listRows({
          what: "role",
          items: serverRoles.sort((a, b) => a.name.localeCompare(b.name)),
          name: (r) => r.name,
          editHash: (r) => `#/admin/roles/${r.id}`,
          detail: (r) => {
            const parts = [`${(r.scopes || []).length} scopes`, `${(r.users || []).length} members`, `tokens up to ${showMinutes(r.longest_token_life_minutes)}`];
            const end = parseApiDate(r.latest_token_expiry);
            if (end) parts.push(`until ${showDate(end)}`);
            if (r.epsilon_budget != null) parts.push(`epsilon up to ${r.max_epsilon_per_query} per query, ${r.epsilon_budget} in all`);
            return parts.join(" · ");
          },
          remove: (r) => del(`/roles/${r.id}`),
          afterRemove: async () => { await ctx.refreshServers(); ctx.go("#/admin/roles"); },
          extraAttrs: (r, action) => ({ "data-cy": `${action === "rm" ? "delete" : "edit"}-${r.name}`, "data-server-name": server.name }),
        }),
      ),
    );
  add(container, 
    ctx.heading("Roles"),
    h("p", { class: "muted", text: "A role is a set of scopes on one server with limits on token lifetimes. Users holding a role can create tokens with it." }),
    h("div", { class: "toolbar" }, h("a", { href: "#/admin/roles/new", id: "new", class: "btn primary", "data-cy": "new" }, "New role")),
    servers.length ? null : h("p", { class: "notice", text: "There are no servers yet: add one under Servers first." }),
    sections.length ? sections : h("p", { class: "muted", text: "No roles yet." }),
  );
}

export async function form(container, ctx, roleId) {
  const editing = roleId !== null;
  const wantedServer = Number(new URLSearchParams(location.hash.split("?")[1] || "").get("server")) || null;
  const [servers, users, role, roleScopes] = await Promise.all([
    get("/admin/servers"),
    get("/admin/users"),
    editing ? get(`/roles/${roleId}`) : Promise.resolve(null),
    editing ? get(`/roles/${roleId}/scopes`).catch(() => null) : Promise.resolve(null),
  ]);
  servers.sort((a, b) => a.name.localeCompare(b.name));
  users.sort((a, b) => a.name.localeCompare(b.name));
  if (!servers.length) {
    add(container, ctx.heading("New Role"), h("p", { class: "notice", text: "Add a server first: a role belongs to one server." }), h("a", { class: "btn", href: "#/admin/servers/new", text: "New server" }));
    return;
  }

  const serverSelect = h(
    "select",
    { disabled: editing },
    servers.map((s) => h("option", { value: String(s.id), text: s.name, selected: editing ? s.id === role.server : s.id === wantedServer })),
  );
  const server = field({ label: "Server", id: "server", name: "server_id", control: serverSelect, help: editing ? "A role stays on its server." : "The FlowAPI server the role's tokens are for." });
  const name = field({ label: "Role name", id: "name", name: "name", value: role?.name ?? "", attrs: { autocomplete: "off", maxlength: "75", spellcheck: "false" }, help: "Letters, numbers and underscores, e.g. viewer." });
  const expiry = field({ label: "Expiry date (optional)", id: "expiry", name: "latest_token_expiry", type: "datetime-local", value: toLocalInput(parseApiDate(role?.latest_token_expiry)) });
  const lifetime = field({ label: "Max. lifetime (mins)", id: "lifetime", name: "longest_token_life_minutes", type: "number", value: role ? String(role.longest_token_life_minutes) : "", attrs: { min: "1", step: "1", inputmode: "numeric" } });
  // Ours (issue 21): differential-privacy limits, carried by the role's tokens as their `privacy` claim.
  const maxEpsilon = field({ label: "Max. epsilon per query", id: "max_epsilon", name: "max_epsilon_per_query", type: "number", value: role?.max_epsilon_per_query != null ? String(role.max_epsilon_per_query) : "", attrs: { min: "0", step: "any", inputmode: "decimal" } });
  const budget = field({ label: "Epsilon budget", id: "epsilon_budget", name: "epsilon_budget", type: "number", value: role?.epsilon_budget != null ? String(role.epsilon_budget) : "", attrs: { min: "0", step: "any", inputmode: "decimal" } });
  const privacy = h(
    "fieldset",
    { class: "privacy-limits" },
    h("legend", { text: "Differential privacy (optional)" }),
    h("p", { class: "helper", text: "For servers that release only differentially private results: the most epsilon one query may spend, and the total a token (and its user) may spend. Set both or neither." }),
    h("div", { class: "two-cols" }, maxEpsilon.wrap, budget.wrap),
  );
  const memberIds = new Set(role?.users || []);
  const memberBoxes = users.map((u) => ({ user: u, ...checkbox({ label: u.name, id: `member_${u.id}`, attrs: { "data-user-id": u.id, value: String(u.id) }, checked: memberIds.has(u.id) }) }));
  const members = h(
    "fieldset",
    { class: "members" },
    h("legend", { text: "Members" }),
    h("p", { class: "helper", text: "The users who hold this role." }),
    h("div", { class: "member-list" }, memberBoxes.map((b) => b.wrap)),
  );
  const pickerSlot = h("div", { class: "picker-slot" });
  const hint = h("p", { id: "save_hint", class: "helper", role: "status" });
  const save = h("button", { type: "submit", id: "save", class: "btn primary", text: "Save", disabled: true, "aria-describedby": "save_hint" });
  const cancel = h("a", { href: "#/admin/roles", id: "cancel", class: "btn", text: "Cancel" });
  const theForm = h(
    "form",
    { novalidate: true, class: "card stack", "aria-label": editing ? "Edit role" : "New role" },
    server.wrap,
    name.wrap,
    h("div", { class: "two-cols" }, expiry.wrap, lifetime.wrap),
    privacy,
    members,
    pickerSlot,
    h("div", { class: "actions sticky" }, hint, cancel, save),
  );

  let picker = null;
  let limits = null; // the chosen server's caps
  let nameTouched = editing;
  let lifetimeTouched = editing;

  function problems() {
    const found = [];
    const nameIssue = nameProblem(name.input.value, "Role name");
    name.setError(nameTouched ? nameIssue : null);
    if (nameIssue) found.push("a valid name");
    let lifeIssue = null;
    const raw = lifetime.input.value.trim();
    const life = positiveInt(raw);
    if (!raw) lifeIssue = "Max. lifetime cannot be blank.";
    else if (!life) lifeIssue = "Max. lifetime must be a whole number of minutes, 1 or more.";
    else if (limits && life > limits.longest_token_life_minutes) lifeIssue = `The server allows at most ${limits.longest_token_life_minutes} minutes.`;
    lifetime.setError(lifetimeTouched ? lifeIssue : null);
    if (lifeIssue) found.push("a valid lifetime");
    const end = fromLocalInput(expiry.input.value);
    const serverEnd = limits ? parseApiDate(limits.latest_token_expiry) : null;
    if (expiry.input.value && !end) {
      expiry.setError("Enter a date and time.");
      found.push("a valid expiry date");
    } else if (end && serverEnd && end > serverEnd) {
      expiry.setError(`The server allows tokens only until ${showDate(serverEnd)}.`);
      found.push("an expiry date within the server's");
    } else {
      expiry.setError(end && end < new Date() ? "This date has passed: no token could be created with this role." : null);
    }
    const epsilonIssue = privacyProblem();
    if (epsilonIssue) found.push("valid privacy limits");
    if (!picker || picker.count() === 0) found.push("at least one scope");
    return found;
  }

  function epsilonOf(input) {
    const raw = input.value.trim();
    if (!raw) return null;
    const value = Number(raw);
    return Number.isFinite(value) && value > 0 && value <= 10000 ? value : NaN;
  }

  function privacyProblem() {
    const perQuery = epsilonOf(maxEpsilon.input);
    const total = epsilonOf(budget.input);
    maxEpsilon.setError(Number.isNaN(perQuery) ? "A number above 0 and at most 10000." : null);
    budget.setError(Number.isNaN(total) ? "A number above 0 and at most 10000." : null);
    if (Number.isNaN(perQuery) || Number.isNaN(total)) return true;
    if ((perQuery === null) !== (total === null)) {
      (perQuery === null ? maxEpsilon : budget).setError("Set both privacy limits or neither.");
      return true;
    }
    if (perQuery !== null && perQuery > total) {
      maxEpsilon.setError("Cannot be more than the budget.");
      return true;
    }
    return false;
  }

  function validate() {
    const found = problems();
    save.disabled = found.length > 0;
    hint.textContent = found.length ? `To save, give the role ${found.join(", ")}.` : "";
    return found.length === 0;
  }

  let loadedServer = null;
  let loadSeq = 0;
  async function loadServer(serverId, chosenScopeIds) {
    if (serverId === loadedServer) return;
    loadedServer = serverId;
    loadSeq += 1;
    const mine = loadSeq;
    picker = null;
    validate();
    pickerSlot.replaceChildren(h("p", { class: "loading", role: "status", text: "Loading the server's scopes…" }));
    const [scopes, detail] = await Promise.all([get(`/admin/servers/${serverId}/scopes`), get(`/admin/servers/${serverId}`)]);
    if (mine !== loadSeq) return; // another server was chosen meanwhile
    limits = detail;
    const serverEnd = parseApiDate(detail.latest_token_expiry);
    expiry.setHelp(`Leave empty for no date limit${serverEnd ? ` (the server's: until ${showDate(serverEnd)})` : ""}. Tokens with this role expire by this date at the latest.`);
    lifetime.setHelp(`The longest a token with this role may live. The server allows up to ${detail.longest_token_life_minutes} minutes (${showMinutes(detail.longest_token_life_minutes)}).`);
    if (!lifetime.input.value) lifetime.input.value = String(detail.longest_token_life_minutes);
    if (serverEnd) expiry.input.max = toLocalInput(serverEnd);
    picker = scopePicker({ scopes, chosenIds: chosenScopeIds, onChange: validate });
    pickerSlot.replaceChildren(picker.element);
    validate();
  }

  name.input.addEventListener("input", () => { nameTouched = true; validate(); });
  name.input.addEventListener("blur", () => {
    if (name.input.value) nameTouched = true;
    validate();
  });
  lifetime.input.addEventListener("input", () => { lifetimeTouched = true; validate(); });
  expiry.input.addEventListener("input", validate);
  maxEpsilon.input.addEventListener("input", validate);
  budget.input.addEventListener("input", validate);
  serverSelect.addEventListener("change", guard(() => loadServer(Number(serverSelect.value), [])));

  theForm.addEventListener(
    "submit",
    guard(async (event) => {
      event.preventDefault();
      nameTouched = true;
      lifetimeTouched = true;
      if (!validate()) return;
      const body = {
        name: name.input.value,
        scopes: picker.chosen(),
        users: memberBoxes.filter((b) => b.input.checked).map((b) => b.user.id),
        latest_token_expiry: formatApiDate(fromLocalInput(expiry.input.value)),
        longest_token_life_minutes: positiveInt(lifetime.input.value),
        max_epsilon_per_query: epsilonOf(maxEpsilon.input),
        epsilon_budget: epsilonOf(budget.input),
      };
      try {
        if (editing) await patch(`/roles/${roleId}`, body);
        else await post("/roles/", { ...body, server_id: Number(serverSelect.value) });
      } catch (err) {
        if (err instanceof ApiError) {
          const target = { name, latest_token_expiry: expiry, longest_token_life_minutes: lifetime, max_epsilon_per_query: maxEpsilon, epsilon_budget: budget }[err.badField];
          target?.setError(err.message);
        }
        throw err;
      }
      snackbar(`Saved role ${body.name}.`);
      await ctx.refreshServers();
      ctx.go("#/admin/roles");
    }, save),
  );

  const serverName = servers.find((s) => s.id === Number(serverSelect.value))?.name ?? "";
  add(container, 
    ctx.heading(editing ? "Edit Role" : "New Role"),
    editing ? h("p", { class: "muted", text: `On server ${serverName}.` }) : null,
    theForm,
  );
  const chosenScopes = roleScopes ? roleScopes.map((s) => s.id) : role?.scopes || [];
  await loadServer(Number(serverSelect.value), chosenScopes);
  if (!editing) name.input.focus();
}
