// The JSON API client (docs/flowauth.md): same origin, the session cookie, the CSRF header on every
// state-changing request, errors as ApiError carrying the server's message.

import { showError } from "./dom.js";

/** An error the API answered with: `message` is for the user; `status`, `badField`, `body` for the code. */
export class ApiError extends Error {
  constructor(message, status, body = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
    this.badField = body.bad_field ?? null;
  }
}

/** Thrown after the app has already dealt with an answer (session ended, two-factor setup forced). */
export class Handled extends Error {
  constructor(reason) {
    super(reason);
    this.name = "Handled";
  }
}

const hooks = {
  sessionEnded: () => {},
  twoFactorSetupNeeded: () => {},
};

/** The app's reactions to a session that has ended and to a forced two-factor setup. */
export function setHooks({ sessionEnded, twoFactorSetupNeeded }) {
  if (sessionEnded) hooks.sessionEnded = sessionEnded;
  if (twoFactorSetupNeeded) hooks.twoFactorSetupNeeded = twoFactorSetupNeeded;
}

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) {
      let value = rest.join("=");
      if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return decodeURIComponent(value);
    }
  }
  return null;
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

async function send(method, path, body) {
  const headers = { Accept: "application/json" };
  if (!SAFE.has(method)) {
    if (cookie("X-CSRF") === null) await fetch("/version", { credentials: "same-origin" }).catch(() => {});
    headers["X-CSRF-Token"] = cookie("X-CSRF") ?? "";
  }
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(`Could not reach FlowAuth (${err.message || err}). Check your connection and try again.`, 0);
  }
  const type = response.headers.get("Content-Type") || "";
  let data = null;
  let text = "";
  if (type.includes("json")) {
    data = await response.json().catch(() => null);
  } else {
    text = await response.text().catch(() => "");
  }
  return { response, data, text };
}

function errorFrom(response, data, text) {
  const body = data && typeof data === "object" ? data : {};
  let message = body.message || body.statusText || (text && text.length < 300 ? text.trim() : "") || response.statusText || `Request failed (${response.status})`;
  if (response.status === 429) {
    const wait = Number(response.headers.get("Retry-After") ?? body.retry_after);
    message = Number.isFinite(wait) && wait > 0 ? `Too many attempts, try again in ${Math.ceil(wait)} s` : "Too many attempts, try again later";
  }
  return new ApiError(message, response.status, body);
}

/**
 * Call the API. Options: `signInCall` (a 401 is the answer, not an ended session). A 401 elsewhere is
 * checked against /is_signed_in: when the session has ended the app returns to sign-in (Handled thrown),
 * otherwise the 401's own message is thrown as an ApiError (e.g. "Code not valid.").
 */
export async function api(method, path, body, { signInCall = false } = {}) {
  let { response, data, text } = await send(method, path, body);
  if (response.status === 401 && !SAFE.has(method) && /CSRF/.test(data?.message ?? text)) {
    // a CSRF token from a session that has ended (e.g. a sign-in form left open): that answer set a fresh
    // cookie, so try once more
    ({ response, data, text } = await send(method, path, body));
  }
  if (response.ok) return data ?? (text || null);
  const error = errorFrom(response, data, text);
  if (response.status === 401 && !signInCall) {
    const check = await send("GET", "/is_signed_in").catch(() => null);
    if (!check || check.response.status === 401) {
      hooks.sessionEnded("Your session has ended. Please sign in again.");
      throw new Handled("session ended");
    }
  }
  if (response.status === 403 && error.body.need_two_factor_setup) {
    hooks.twoFactorSetupNeeded();
    throw new Handled("two-factor setup needed");
  }
  throw error;
}

export const get = (path, options) => api("GET", path, undefined, options);
export const post = (path, body = {}, options) => api("POST", path, body, options);
export const patch = (path, body = {}, options) => api("PATCH", path, body, options);
export const del = (path, options) => api("DELETE", path, undefined, options);

/** Show any error to the user (the API's message as it is), except those the app already handled. */
export function report(err) {
  if (err instanceof Handled) return;
  if (err instanceof ApiError) {
    showError(err.message);
  } else {
    console.error(err);
    showError(`Something went wrong in this page: ${err?.message || err}`);
  }
}

/**
 * Wrap an event handler: errors are reported; `busy` (a button or list of them) is disabled while it runs
 * so a double click does not send twice.
 */
export function guard(fn, busy = null) {
  return async (event) => {
    const controls = busy ? (Array.isArray(busy) ? busy : [busy]) : [];
    const before = controls.map((c) => c.disabled);
    controls.forEach((c) => { c.disabled = true; c.setAttribute("aria-busy", "true"); });
    try {
      await fn(event);
    } catch (err) {
      report(err);
    } finally {
      controls.forEach((c, i) => {
        if (c.getAttribute("aria-busy") === "true") {
          c.removeAttribute("aria-busy");
          c.disabled = before[i];
        }
      });
    }
  };
}
