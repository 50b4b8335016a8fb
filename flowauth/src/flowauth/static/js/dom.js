// Small DOM helpers: element building (text only, never HTML strings), dialogs, snackbar, clipboard,
// downloads, dates. Every page module builds its markup with `h`.

/**
 * Build an element. `attrs`: `class`, `text`, `on<event>` handlers, boolean properties (`disabled`,
 * `checked`, `hidden`, `required`, `indeterminate`...), everything else as an attribute. Children may be
 * strings, nodes, arrays or null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = tag === "svg" || tag === "path"
    ? document.createElementNS("http://www.w3.org/2000/svg", tag)
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "text") {
      el.textContent = value;
    } else if (key === "class") {
      el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (["checked", "disabled", "hidden", "required", "indeterminate", "value", "open", "multiple", "selected", "readOnly"].includes(key)) {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Append children (nodes, strings, arrays; null skipped) to `el`. */
export function add(el, ...children) {
  append(el, children);
  return el;
}

/** Replace the children of `el` (as `add`). */
export function fill(el, ...children) {
  return add(clear(el), ...children);
}

/** An id made from free text (a role or scope name): anything but letters, digits, _ and - becomes _. */
export function safeId(prefix, text) {
  return `${prefix}${String(text).replace(/[^\w-]/g, "_")}`;
}

let fieldCounter = 0;
/** A unique id for label/description wiring when the caller gives none. */
export function uid(prefix = "f") {
  fieldCounter += 1;
  return `${prefix}-${fieldCounter}`;
}

/**
 * A labelled form field: label, control, helper text (aria-describedby). Returns {wrap, input, helper,
 * setError(text|null), setHelp(text)}.
 */
export function field({ label, id, type = "text", name, value = "", help = "", attrs = {}, control = null }) {
  const inputId = id || uid("field");
  const helpId = `${inputId}-helper`;
  const input = control || h("input", { id: inputId, name: name || inputId, type, value, ...attrs });
  if (control) {
    input.id = inputId;
    if (name) input.name = name;
  }
  input.setAttribute("aria-describedby", helpId);
  const helper = h("p", { class: "helper", id: helpId, text: help });
  const wrap = h("div", { class: "field" }, h("label", { for: inputId, text: label }), input, helper);
  let baseHelp = help;
  return {
    wrap,
    input,
    helper,
    setError(text) {
      if (text) {
        input.setAttribute("aria-invalid", "true");
        helper.textContent = text;
        helper.classList.add("error");
      } else {
        input.removeAttribute("aria-invalid");
        helper.textContent = baseHelp;
        helper.classList.remove("error");
      }
    },
    setHelp(text) {
      baseHelp = text;
      if (!helper.classList.contains("error")) helper.textContent = text;
    },
  };
}

/** A checkbox with its label (a switch in look). */
export function checkbox({ label, id, name, checked = false, disabled = false, attrs = {}, help = "" }) {
  const inputId = id || uid("check");
  const input = h("input", { type: "checkbox", id: inputId, name: name || inputId, checked, disabled, ...attrs });
  const parts = [input, h("label", { for: inputId, text: label })];
  if (help) {
    const helpId = `${inputId}-helper`;
    input.setAttribute("aria-describedby", helpId);
    parts.push(h("p", { class: "helper", id: helpId, text: help }));
  }
  return { wrap: h("div", { class: "check" }, parts), input };
}

export function button(text, attrs = {}) {
  return h("button", { type: "button", class: "btn", ...attrs }, text);
}

// ---- dialogs ---------------------------------------------------------------------------------------

/** The error dialog (#error-dialog): one at a time, the message as text. Resolves when closed. */
export function showError(message) {
  let dialog = document.getElementById("error-dialog");
  if (!dialog) {
    dialog = h(
      "dialog",
      { id: "error-dialog", class: "dialog", "aria-labelledby": "error-dialog-title", "aria-describedby": "error-dialog-description" },
      h("h2", { id: "error-dialog-title", text: "Error" }),
      h("p", { id: "error-dialog-description" }),
      h("div", { class: "actions" }, button("OK", { id: "error-dialog-ok", class: "btn primary", onclick: () => dialog.close() })),
    );
    document.body.append(dialog);
  }
  dialog.querySelector("#error-dialog-description").textContent = message || "Something went wrong.";
  if (!dialog.open) dialog.showModal();
  dialog.querySelector("#error-dialog-ok").focus();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(), { once: true }));
}

/** Ask before doing something that cannot be undone; resolves true on OK (#confirm-dialog). */
export function confirmDialog({ title, message, ok = "Delete", danger = true }) {
  document.getElementById("confirm-dialog")?.remove();
  return new Promise((resolve) => {
    let answer = false;
    const dialog = h(
      "dialog",
      { id: "confirm-dialog", class: "dialog", "aria-labelledby": "confirm-dialog-title", "aria-describedby": "confirm-dialog-description" },
      h("h2", { id: "confirm-dialog-title", text: title }),
      h("p", { id: "confirm-dialog-description", text: message }),
      h(
        "div",
        { class: "actions" },
        button("Cancel", { id: "confirm-dialog-cancel", onclick: () => dialog.close() }),
        button(ok, { id: "confirm-dialog-ok", class: danger ? "btn danger" : "btn primary", onclick: () => { answer = true; dialog.close(); } }),
      ),
    );
    dialog.addEventListener("close", () => { dialog.remove(); resolve(answer); });
    document.body.append(dialog);
    dialog.showModal();
    dialog.querySelector("#confirm-dialog-cancel").focus();
  });
}

/** A dialog showing content with a Close button; returns the dialog (removed when closed). */
export function infoDialog({ id, title, body, actions = [] }) {
  document.getElementById(id)?.remove();
  const titleId = `${id}-title`;
  const dialog = h(
    "dialog",
    { id, class: "dialog wide", "aria-labelledby": titleId },
    h("h2", { id: titleId, text: title }),
    body,
    h("div", { class: "actions" }, actions, button("Close", { class: "btn primary", "data-action": "close", onclick: () => dialog.close() })),
  );
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

let snackTimer = null;
/** A short message at the bottom of the screen (#snackbar, role=status). */
export function snackbar(message) {
  let bar = document.getElementById("snackbar");
  if (!bar) {
    bar = h("div", { id: "snackbar", role: "status", "aria-live": "polite" });
    document.body.append(bar);
  }
  bar.textContent = message;
  bar.classList.add("show");
  clearTimeout(snackTimer);
  snackTimer = setTimeout(() => bar.classList.remove("show"), 4000);
}

// ---- clipboard and downloads -------------------------------------------------------------------------

/** Copy text; navigator.clipboard where allowed, else a hidden textarea and execCommand. True on success. */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the old way
  }
  const area = h("textarea", { class: "offscreen", readOnly: true, "aria-hidden": "true" });
  area.value = text;
  // inside an open modal dialog, only its contents can take the selection
  const host = document.querySelector("dialog[open]") || document.body;
  host.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

export async function copyWithFeedback(text, what = "Copied") {
  const ok = await copyText(text);
  snackbar(ok ? `${what} to the clipboard.` : "Could not copy: select the text and copy it by hand.");
  return ok;
}

/** Offer `text` as a file download named `filename`. */
export function download(filename, text, type = "text/plain") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h("a", { href: url, download: filename, class: "offscreen" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---- dates ---------------------------------------------------------------------------------------------

/** The API's `%Y-%m-%dT%H:%M:%S.%fZ` (UTC) as a Date, or null. */
export function parseApiDate(text) {
  if (!text) return null;
  const trimmed = String(text).replace(/(\.\d{3})\d*/, "$1");
  const withZone = /Z$|[+-]\d\d:?\d\d$/.test(trimmed) ? trimmed : `${trimmed}Z`;
  const date = new Date(withZone);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** A Date in the API's format (microseconds, UTC). */
export function formatApiDate(date) {
  if (!date) return null;
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** A Date as the value of an <input type=datetime-local> (local time, minutes). */
export function toLocalInput(date) {
  if (!date) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** An <input type=datetime-local> value as a Date (local time), or null when empty/invalid. */
export function fromLocalInput(value) {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
export function showDate(date) {
  return date ? dateFormat.format(date) : "—";
}

/** "in 3 days", "2 hours ago"... */
export function relative(date, now = new Date()) {
  if (!date) return "";
  const seconds = Math.round((date - now) / 1000);
  const units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]];
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return rtf.format(Math.trunc(seconds / size), unit);
  }
  return rtf.format(seconds, "second");
}

/** 1440 → "1 day", 90 → "1 hour 30 minutes". */
export function showMinutes(total) {
  const minutes = Number(total);
  if (!Number.isFinite(minutes)) return "";
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  const part = (n, word) => (n ? `${n} ${word}${n === 1 ? "" : "s"}` : null);
  return [part(days, "day"), part(hours, "hour"), part(mins, "minute")].filter(Boolean).join(" ") || "0 minutes";
}

/** 43198 → "about 30 days": a duration rounded to its largest unit. */
export function aboutMinutes(total) {
  const minutes = Number(total);
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  if (minutes >= 1440) return `about ${plural(Math.round(minutes / 1440), "day")}`;
  if (minutes >= 60) return `about ${plural(Math.round(minutes / 60), "hour")}`;
  return plural(minutes, "minute");
}

// ---- validation ------------------------------------------------------------------------------------------

const ASCII_WORD = /^[A-Za-z0-9_]+$/;

/** FlowKit's name rule (letters, digits, underscore): the helper text for `value`, or null when valid. */
export function nameProblem(value, what, cannot = "cannot") {
  if (!value) return `${what} ${cannot} be blank.`;
  if (!ASCII_WORD.test(value)) return `${what} may only contain letters, numbers and underscores.`;
  return null;
}

export function positiveInt(value) {
  const text = String(value ?? "").trim();
  if (!/^\d+$/.test(text)) return null;
  const n = Number(text);
  return n > 0 ? n : null;
}
