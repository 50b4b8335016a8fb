// The scope picker of the role form. Scopes are `<unit>:<top-level kind>:<nested kind>` (FlowAPI's
// permissions.py) or simple (run, get_result...). Simple scopes come first; then one collapsible group per
// top-level query kind ([data-cy=nested-<kind>], tri-state [data-cy=checkbox]) holding a table: a row per
// nested kind, a column per aggregation unit, a checkbox per scope ([data-scope=<scope>]), plus a checkbox
// for each whole row and column. A filter narrows what is shown; bulk checkboxes act on what is shown.

import { h, safeId } from "./dom.js";

const UNIT_ORDER = ["admin0", "admin1", "admin2", "admin3", "lon-lat", "nonspatial"];
const SIMPLE_HELP = {
  run: "Run queries",
  get_result: "Fetch the results of queries",
  get_available_dates: "See which dates have data",
  get_qa_checks: "Read the data quality checks",
};
const SIMPLE_ORDER = ["run", "get_result", "get_available_dates", "get_qa_checks"];

function unitRank(unit) {
  const i = UNIT_ORDER.indexOf(unit);
  return i === -1 ? UNIT_ORDER.length : i;
}
const byUnit = (a, b) => unitRank(a) - unitRank(b) || a.localeCompare(b);

/** Split scopes into simple ones and groups {kind → {units[], nested[], cells: Map("unit|nested" → scope)}}. */
export function groupScopes(scopes) {
  const simple = [];
  const groups = new Map();
  for (const scope of scopes) {
    const parts = scope.name.split(":");
    if (parts.length !== 3 || parts.some((p) => !p)) {
      simple.push(scope);
      continue;
    }
    const [unit, kind, nested] = parts;
    if (!groups.has(kind)) groups.set(kind, { kind, units: new Set(), nested: new Set(), cells: new Map(), scopes: [] });
    const group = groups.get(kind);
    group.units.add(unit);
    group.nested.add(nested);
    group.cells.set(`${unit}|${nested}`, scope);
    group.scopes.push(scope);
  }
  const rank = (name) => (SIMPLE_ORDER.includes(name) ? SIMPLE_ORDER.indexOf(name) : SIMPLE_ORDER.length);
  simple.sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
  const ordered = [...groups.values()].sort((a, b) => a.kind.localeCompare(b.kind));
  for (const g of ordered) {
    g.units = [...g.units].sort(byUnit);
    g.nested = [...g.nested].sort((a, b) => (a === g.kind ? -1 : b === g.kind ? 1 : a.localeCompare(b)));
  }
  return { simple, groups: ordered };
}

/**
 * The summary line: "spatial_aggregate (admin2, admin3), run"; a group wholly chosen reads "kind (All)", a
 * unit only partly chosen within a group "admin2 partly".
 */
export function summarise(scopes, chosen) {
  const { simple, groups } = groupScopes(scopes);
  const parts = [];
  for (const g of groups) {
    const picked = g.scopes.filter((s) => chosen.has(s.id));
    if (!picked.length) continue;
    if (picked.length === g.scopes.length) {
      parts.push(`${g.kind} (All)`);
      continue;
    }
    const units = g.units
      .map((unit) => {
        const cells = g.nested.map((n) => g.cells.get(`${unit}|${n}`)).filter(Boolean);
        const on = cells.filter((s) => chosen.has(s.id)).length;
        if (!on) return null;
        return on === cells.length ? unit : `${unit} partly`;
      })
      .filter(Boolean);
    parts.push(`${g.kind} (${units.join(", ")})`);
  }
  for (const s of simple) if (chosen.has(s.id)) parts.push(s.name);
  return parts.join(", ");
}

/**
 * scopes: [{id, name}]; chosenIds: iterable of ids; onChange(): after every change.
 * Returns {element, chosen(): ids (sorted), count()}.
 */
export function scopePicker({ scopes, chosenIds = [], onChange = () => {} }) {
  const known = new Set(scopes.map((s) => s.id));
  const chosen = new Set([...chosenIds].filter((id) => known.has(id)));
  const { simple, groups } = groupScopes(scopes);
  const leaves = []; // {scope, input}
  const bulk = []; // {input, members: () => leaves}
  const summary = h("p", { id: "scope_summary", class: "scope-summary", "aria-live": "polite" });
  const filter = h("input", { id: "scope_filter", type: "search", placeholder: "Filter, e.g. admin3 or flows", autocomplete: "off", spellcheck: "false", "aria-describedby": "scope_filter_help" });
  let filterWords = [];

  const leaf = (scope, attrs = {}) => {
    const input = h("input", { type: "checkbox", "data-scope": scope.name, checked: chosen.has(scope.id), ...attrs });
    const entry = { scope, input, visible: true };
    input.addEventListener("change", () => {
      if (input.checked) chosen.add(scope.id);
      else chosen.delete(scope.id);
      refresh();
    });
    leaves.push(entry);
    return entry;
  };

  /** A checkbox for several leaves: checked when all shown are chosen, indeterminate when some are. */
  const bulkBox = (members, attrs) => {
    const input = h("input", { type: "checkbox", ...attrs });
    const entry = { input, members };
    input.addEventListener("change", () => {
      const shown = members().filter((m) => m.visible);
      const turnOn = !shown.every((m) => m.input.checked);
      for (const m of shown) {
        m.input.checked = turnOn;
        if (turnOn) chosen.add(m.scope.id);
        else chosen.delete(m.scope.id);
      }
      refresh();
    });
    bulk.push(entry);
    return entry;
  };

  // ---- simple scopes ----
  const simpleEntries = simple.map((scope) => ({ scope, entry: leaf(scope, { id: safeId("scope_", scope.name), "data-cy": `scope-item-${scope.name}` }) }));
  const simpleSet = simple.length
    ? h(
        "fieldset",
        { class: "simple-scopes" },
        h("legend", { text: "Actions and other scopes" }),
        simpleEntries.map(({ scope, entry }) =>
          h(
            "div",
            { class: "check", "data-simple": scope.name },
            entry.input,
            h("label", { for: entry.input.id }, h("code", { text: scope.name }), SIMPLE_HELP[scope.name] ? h("span", { class: "caption", text: ` ${SIMPLE_HELP[scope.name]}` }) : null),
          ),
        ),
      )
    : null;

  // ---- query-kind groups ----
  const groupViews = groups.map((g) => {
    const bodyId = safeId("scope_group_", g.kind);
    const cellEntries = new Map();
    const rows = g.nested.map((nested) => {
      const cells = g.units.map((unit) => {
        const scope = g.cells.get(`${unit}|${nested}`);
        if (!scope) return h("td", { class: "none", "data-unit": unit }, h("span", { "aria-hidden": "true", text: "·" }));
        const entry = leaf(scope, { "aria-label": `${g.kind} by ${unit}: ${nested}`, title: scope.name });
        cellEntries.set(`${unit}|${nested}`, entry);
        return h("td", { "data-unit": unit }, entry.input);
      });
      const rowMembers = () => g.units.map((u) => cellEntries.get(`${u}|${nested}`)).filter(Boolean);
      const rowBox = bulkBox(rowMembers, { "data-row": nested, "aria-label": `${g.kind}: every unit for ${nested}` });
      return { nested, el: h("tr", { "data-nested": nested }, h("th", { scope: "row" }, h("label", { class: "inline" }, rowBox.input, h("span", { text: nested }))), cells), members: rowMembers };
    });
    const colBoxes = g.units.map((unit) => {
      const colMembers = () => g.nested.map((n) => cellEntries.get(`${unit}|${n}`)).filter(Boolean);
      const box = bulkBox(colMembers, { "data-unit-box": unit, "aria-label": `${g.kind}: every query by ${unit}` });
      return { unit, members: colMembers, el: h("th", { scope: "col", "data-unit": unit }, h("label", { class: "inline vertical" }, box.input, h("span", { text: unit }))) };
    });
    const groupMembers = () => [...cellEntries.values()];
    const groupBox = bulkBox(groupMembers, { id: safeId("scope_all_", g.kind), "data-cy": "checkbox", "aria-label": `Every ${g.kind} scope` });
    const count = h("span", { class: "count" });
    const unitsText = h("span", { class: "units-summary" });
    const chevron = h(
      "button",
      { type: "button", class: "chevron", "data-cy": "chevron", "aria-expanded": "false", "aria-controls": bodyId },
      h("span", { class: "arrow", "aria-hidden": "true" }),
      h("span", { class: "kind-name", text: g.kind }),
      count,
      unitsText,
    );
    const body = h(
      "div",
      { class: "group-body", id: bodyId, hidden: true },
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "scope-table" },
          h("caption", { class: "sr-only", text: `${g.kind}: a row per query it may contain, a column per aggregation unit` }),
          h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "corner", text: "Query it contains" }), colBoxes.map((c) => c.el))),
          h("tbody", {}, rows.map((r) => r.el)),
        ),
      ),
    );
    const setOpen = (open) => {
      body.hidden = !open;
      chevron.setAttribute("aria-expanded", String(open));
    };
    chevron.addEventListener("click", () => setOpen(body.hidden));
    const el = h("div", { class: "scope-group", "data-cy": `nested-${g.kind}` }, h("div", { class: "group-head" }, groupBox.input, chevron), body);
    return { g, el, count, unitsText, rows, colBoxes, members: groupMembers, setOpen, body };
  });

  // ---- filter and refresh ----
  function applyFilter() {
    filterWords = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    const match = (name) => filterWords.every((w) => name.toLowerCase().includes(w));
    for (const l of leaves) l.visible = match(l.scope.name);
    for (const { entry } of simpleEntries) entry.input.closest(".check").hidden = !entry.visible;
    if (simpleSet) simpleSet.hidden = !simpleEntries.some(({ entry }) => entry.visible);
    for (const view of groupViews) {
      const anyShown = view.members().some((m) => m.visible);
      view.el.hidden = !anyShown;
      for (const row of view.rows) row.el.hidden = !row.members().some((m) => m.visible);
      for (const col of view.colBoxes) {
        const shown = col.members().some((m) => m.visible);
        view.body.querySelectorAll(`[data-unit="${CSS.escape(col.unit)}"]`).forEach((cell) => { cell.hidden = !shown; });
      }
      if (filterWords.length) view.setOpen(anyShown);
    }
    if (!filterWords.length) for (const view of groupViews) view.setOpen(false);
    refresh();
  }
  filter.addEventListener("input", applyFilter);

  function refresh() {
    for (const b of bulk) {
      const shown = b.members().filter((m) => m.visible);
      const on = shown.filter((m) => m.input.checked).length;
      b.input.checked = shown.length > 0 && on === shown.length;
      b.input.indeterminate = on > 0 && on < shown.length;
      b.input.disabled = shown.length === 0;
    }
    for (const view of groupViews) {
      const all = view.members();
      const on = all.filter((m) => m.input.checked);
      view.count.textContent = `${on.length} of ${all.length}`;
      const partial = summarise(view.g.scopes, chosen);
      view.unitsText.textContent = partial ? partial.slice(view.g.kind.length + 1) : "";
    }
    const text = summarise(scopes, chosen);
    summary.textContent = text ? `Chosen (${chosen.size}): ${text}` : "No scopes chosen yet.";
    summary.classList.toggle("empty", !text);
    onChange();
  }

  const expandAll = h("button", { type: "button", class: "btn small", id: "scope_expand_all", text: "Expand all" });
  expandAll.addEventListener("click", () => {
    const open = groupViews.some((v) => v.body.hidden && !v.el.hidden);
    groupViews.forEach((v) => { if (!v.el.hidden) v.setOpen(open); });
    expandAll.textContent = open ? "Collapse all" : "Expand all";
  });
  const selectShown = h("button", { type: "button", class: "btn small", id: "scope_select_shown", text: "Select all shown" });
  const clearShown = h("button", { type: "button", class: "btn small", id: "scope_clear_shown", text: "Clear all shown" });
  const setShown = (on) => {
    for (const l of leaves) {
      if (!l.visible) continue;
      l.input.checked = on;
      if (on) chosen.add(l.scope.id);
      else chosen.delete(l.scope.id);
    }
    refresh();
  };
  selectShown.addEventListener("click", () => setShown(true));
  clearShown.addEventListener("click", () => setShown(false));

  const element = h(
    "div",
    { id: "scope_picker", class: "scope-picker", role: "group", "aria-labelledby": "scope_picker_title" },
    h("h3", { id: "scope_picker_title", text: "Scopes" }),
    h("p", { class: "helper", id: "scope_picker_help", text: "What tokens with this role may do. Query scopes are grouped by the kind of query; inside a group, pick the aggregation units (columns) and the queries it may contain (rows)." }),
    summary,
    h(
      "div",
      { class: "scope-tools" },
      h("label", { for: "scope_filter", class: "sr-only", text: "Filter scopes" }),
      filter,
      h("div", { class: "row" }, selectShown, clearShown, expandAll),
    ),
    h("p", { class: "helper", id: "scope_filter_help", text: "Every word must appear in the scope; the Select/Clear buttons and the group checkboxes act on the scopes shown." }),
    scopes.length ? null : h("p", { class: "notice", text: "This server has no scopes: upload its FlowAPI spec under Servers first." }),
    simpleSet,
    h("div", { class: "scope-groups" }, groupViews.map((v) => v.el)),
  );
  refresh();
  return {
    element,
    chosen: () => [...chosen].sort((a, b) => a - b),
    count: () => chosen.size,
  };
}
