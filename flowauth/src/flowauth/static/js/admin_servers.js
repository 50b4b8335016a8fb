// Admin: servers (FlowAPI instances). The form reads a FlowAPI OpenAPI spec (uploaded, or fetched by the
// API from a FlowAPI's address): its `x-audience` names the server, its `x-security-scopes` are the scopes.

import { ApiError, del, get, guard, patch, post } from "./api.js";
import { add, field, formatApiDate, fromLocalInput, h, parseApiDate, positiveInt, showMinutes, snackbar, toLocalInput } from "./dom.js";
import { listPage, listRows } from "./lister.js";
import { groupScopes } from "./scope_picker.js";

export async function list(container, ctx) {
  const servers = await get("/admin/servers");
  servers.sort((a, b) => a.name.localeCompare(b.name));
  listPage(container, ctx, {
    title: "Servers",
    what: "server",
    newLabel: "New server",
    newHash: "#/admin/servers/new",
    intro: "The FlowAPI servers FlowAuth issues tokens for. Deleting a server deletes its roles and tokens.",
    body: listRows({
      what: "server",
      items: servers,
      name: (s) => s.name,
      editHash: (s) => `#/admin/servers/${s.id}`,
      remove: (s) => del(`/admin/servers/${s.id}`),
      afterRemove: async () => { await ctx.refreshServers(); ctx.go("#/admin/servers"); },
    }),
  });
}

/** Read name and scopes from a spec in the browser (used when the API cannot be asked). */
export function readSpec(spec) {
  const token = spec?.components?.securitySchemes?.token;
  if (!token || typeof token !== "object") throw new Error("This is not a FlowAPI spec: it has no components.securitySchemes.token.");
  const scopes = token["x-security-scopes"];
  if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== "string")) throw new Error("This spec has no list of scopes (x-security-scopes).");
  return { name: typeof token["x-audience"] === "string" ? token["x-audience"] : "", scopes };
}

/** The "Available API scopes" overview: simple scopes, then per query kind its units and queries. */
function scopeOverview(names, previous) {
  const scopes = names.map((name, id) => ({ id, name }));
  const { simple, groups } = groupScopes(scopes);
  const parts = [h("h3", { id: "scope_list_title", text: `Available API scopes (${names.length})` })];
  if (previous) {
    const before = new Set(previous);
    const after = new Set(names);
    const added = names.filter((n) => !before.has(n));
    const removed = previous.filter((n) => !after.has(n));
    if (added.length || removed.length) {
      parts.push(
        h(
          "p",
          { class: "notice", id: "scope_changes" },
          `Saving changes the scopes: ${added.length} new, ${removed.length} removed.`,
          removed.length ? " Roles lose the removed scopes." : "",
        ),
      );
    } else {
      parts.push(h("p", { class: "muted", id: "scope_changes", text: "The scopes are the same as the server has now." }));
    }
  }
  if (!names.length) {
    parts.push(h("p", { class: "muted", text: "No scopes yet: upload the FlowAPI spec or fetch it from the FlowAPI." }));
    return parts;
  }
  if (simple.length) parts.push(h("p", {}, "Actions: ", simple.map((s, i) => [i ? ", " : "", h("code", { "data-scope-name": s.name, text: s.name })])));
  parts.push(
    h(
      "ul",
      { class: "scope-overview" },
      groups.map((g) =>
        h(
          "li",
          {},
          h(
            "details",
            {},
            h("summary", {}, h("code", { text: g.kind }), h("span", { class: "caption", text: ` ${g.scopes.length} scopes · by ${g.units.join(", ")}` })),
            h("p", { class: "caption", text: `Queries it may contain: ${g.nested.join(", ")}` }),
            h("ul", { class: "scope-strings" }, g.scopes.map((s) => h("li", {}, h("code", { "data-scope-name": s.name, text: s.name })))),
          ),
        ),
      ),
    ),
  );
  return parts;
}

export async function form(container, ctx, serverId) {
  const editing = serverId !== null;
  const [server, currentScopes] = editing
    ? await Promise.all([get(`/admin/servers/${serverId}`), get(`/admin/servers/${serverId}/scopes`)])
    : [null, []];
  const previous = editing ? currentScopes.map((s) => s.name).sort() : null;
  let scopes = previous ? [...previous] : [];
  let specLoaded = false;
  let specAudience = null;

  const upload = h("input", { type: "file", id: "spec-upload-button", name: "spec", accept: ".json,application/json", "aria-describedby": "spec-help" });
  const specUrl = h("input", { type: "url", id: "spec_url", name: "url", placeholder: "https://flowapi.example.org", autocomplete: "url", spellcheck: "false", "aria-describedby": "spec-help" });
  const fetchSpec = h("button", { type: "button", id: "fetch_spec", class: "btn", text: "Fetch spec" });
  const specStatus = h("p", { id: "spec_status", role: "status", class: "helper" });
  const specBox = h(
    "fieldset",
    { class: "spec" },
    h("legend", { text: "FlowAPI spec" }),
    h("p", { class: "helper", id: "spec-help", text: "The spec tells FlowAuth the server's name and every scope its tokens can carry. Upload the FlowAPI's openapi.json (from /api/0/spec/openapi.json), or give the FlowAPI's address and fetch it." }),
    h("div", { class: "field" }, h("label", { for: "spec-upload-button", text: "Upload API spec (JSON)" }), upload),
    h("div", { class: "field" }, h("label", { for: "spec_url", text: "Or fetch it from the FlowAPI at" }), h("div", { class: "input-row" }, specUrl, fetchSpec)),
    specStatus,
  );
  const name = field({ label: "Name", id: "name", name: "name", value: server?.name ?? "", attrs: { autocomplete: "off", maxlength: "120", spellcheck: "false" }, help: "Must equal the FlowAPI's audience (its FLOWAPI_IDENTIFIER); filled in from the spec." });
  const latest = field({
    label: "Latest expiry (optional)",
    id: "latest_expiry",
    name: "latest_token_expiry",
    type: "datetime-local",
    value: toLocalInput(parseApiDate(server?.latest_token_expiry)),
    help: "No token for this server lives past this date. Leave empty for no date limit.",
    attrs: { min: toLocalInput(new Date()) },
  });
  const maxLife = field({
    label: "Maximum lifetime (minutes)",
    id: "max-life",
    name: "longest_token_life_minutes",
    type: "number",
    value: String(server?.longest_token_life_minutes ?? 1440),
    attrs: { min: "1", step: "1", inputmode: "numeric", required: true },
    help: "",
  });
  const lifeHelp = () => {
    const minutes = positiveInt(maxLife.input.value);
    maxLife.setHelp(minutes ? `Tokens live at most ${showMinutes(minutes)}.` : "");
  };
  lifeHelp();
  const overview = h("section", { id: "scope_list", class: "scope-list", "aria-labelledby": "scope_list_title" });
  const drawOverview = () => overview.replaceChildren(...scopeOverview(scopes, specLoaded ? previous : null));
  drawOverview();

  const save = h("button", { type: "submit", id: "save", class: "btn primary", text: "Save" });
  const cancel = h("a", { href: "#/admin/servers", id: "cancel", class: "btn", text: "Cancel" });
  const theForm = h(
    "form",
    { novalidate: true, class: "card stack", "aria-label": editing ? "Edit server" : "New server" },
    specBox,
    name.wrap,
    h("fieldset", { class: "limits" }, h("legend", { text: "Token lifetime limits" }), h("div", { class: "two-cols" }, latest.wrap, maxLife.wrap)),
    overview,
    h("div", { class: "actions" }, cancel, save),
  );

  function useSpec({ name: audience, scopes: found }, source) {
    scopes = [...new Set(found)].sort();
    specLoaded = true;
    specAudience = audience || null;
    if (audience) {
      if (editing && name.input.value && name.input.value !== audience) {
        specStatus.textContent = `Read ${scopes.length} scopes from ${source}. Its audience “${audience}” differs from this server's name: the name is changed to match (FlowAPI only accepts tokens for its own audience).`;
      } else {
        specStatus.textContent = `Read ${scopes.length} scopes from ${source}; server name “${audience}”.`;
      }
      name.input.value = audience;
      name.setError(null);
    } else {
      specStatus.textContent = `Read ${scopes.length} scopes from ${source}. It names no audience: type the server's name.`;
    }
    specStatus.classList.remove("error");
    drawOverview();
  }

  function specFailed(message) {
    specStatus.textContent = message;
    specStatus.classList.add("error");
  }

  upload.addEventListener(
    "change",
    guard(async () => {
      const file = upload.files?.[0];
      if (!file) return;
      let spec;
      try {
        spec = JSON.parse(await file.text());
      } catch (err) {
        specFailed(`“${file.name}” is not a JSON file (${err.message}). Upload FlowAPI's openapi.json.`);
        upload.value = "";
        return;
      }
      let answer;
      try {
        answer = await post("/admin/servers/spec", { spec });
      } catch (err) {
        if (!(err instanceof ApiError) || ![404, 405].includes(err.status)) {
          specFailed(err.message);
          throw err;
        }
        try {
          answer = readSpec(spec); // an API without the spec route: read it here
        } catch (readErr) {
          specFailed(readErr.message);
          throw new ApiError(readErr.message, 400);
        }
      }
      useSpec(answer, `“${file.name}”`);
    }),
  );

  fetchSpec.addEventListener(
    "click",
    guard(async () => {
      const url = specUrl.value.trim();
      if (!url) {
        specFailed("Type the FlowAPI's address first.");
        specUrl.focus();
        return;
      }
      specStatus.classList.remove("error");
      specStatus.textContent = "Fetching the spec…";
      try {
        useSpec(await post("/admin/servers/spec", { url }), url);
      } catch (err) {
        specFailed(err.message);
        throw err;
      }
    }, fetchSpec),
  );

  maxLife.input.addEventListener("input", () => { maxLife.setError(null); lifeHelp(); });
  name.input.addEventListener("input", () => name.setError(null));

  theForm.addEventListener(
    "submit",
    guard(async (event) => {
      event.preventDefault();
      const serverName = name.input.value.trim();
      if (!serverName) {
        name.setError("Server name can not be blank.");
        name.input.focus();
        return;
      }
      const life = positiveInt(maxLife.input.value);
      if (!maxLife.input.value.trim()) {
        maxLife.setError("Maximum lifetime minutes can not be blank.");
        maxLife.input.focus();
        return;
      }
      if (!life) {
        maxLife.setError("Maximum lifetime must be a whole number of minutes, 1 or more.");
        maxLife.input.focus();
        return;
      }
      const end = fromLocalInput(latest.input.value);
      if (latest.input.value && !end) {
        latest.setError("Enter a date and time, or leave it empty.");
        latest.input.focus();
        return;
      }
      latest.setError(null);
      const body = { name: serverName, latest_token_expiry: formatApiDate(end), longest_token_life_minutes: life };
      let id = serverId;
      try {
        if (editing) await patch(`/admin/servers/${serverId}`, body);
        else id = (await post("/admin/servers", body)).id;
      } catch (err) {
        if (err instanceof ApiError) {
          const target = { name, latest_token_expiry: latest, longest_token_life_minutes: maxLife }[err.badField];
          target?.setError(err.message);
        }
        throw err;
      }
      if (!editing || specLoaded) {
        try {
          await post(`/admin/servers/${id}/scopes`, Object.fromEntries(scopes.map((s) => [s, true])));
        } catch (err) {
          if (!editing) {
            // the server exists now: further saves must edit it, not create it again
            ctx.go(`#/admin/servers/${id}`);
          }
          throw err;
        }
      }
      snackbar(`Saved server ${serverName}${specAudience && specAudience !== serverName ? " (its name differs from the spec's audience)" : ""}.`);
      await ctx.refreshServers();
      ctx.go("#/admin/servers");
    }, save),
  );

  add(container, ctx.heading(editing ? "Edit Server" : "New Server"), theForm);
}
