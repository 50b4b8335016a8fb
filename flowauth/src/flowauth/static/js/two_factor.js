// Two-factor setup: backup codes (copied before going on), the QR code, a code to confirm. Used forced
// (after sign-in, when an administrator requires it) and from "My account". Also the backup-code block the
// "regenerate backup codes" control reuses.

import { get, guard, post } from "./api.js";
import { button, copyText, download, field, h, snackbar } from "./dom.js";

/**
 * The backup codes as a list, a Copy button ([data-button-id=copy]) and a Download button. `onCopied` runs
 * after the first Copy click, whether or not the browser let us write the clipboard (the codes stay on
 * screen to copy by hand).
 */
export function backupCodesBlock(codes, onCopied) {
  const text = codes.join("\n");
  const status = h("p", { class: "helper", role: "status" });
  const copy = button("Copy codes", {
    class: "btn primary",
    "data-button-id": "copy",
    onclick: async () => {
      const ok = await copyText(text);
      status.textContent = ok
        ? "The codes are on your clipboard: paste them somewhere safe."
        : "Your browser did not allow copying: select the codes above and copy them by hand.";
      onCopied?.();
    },
  });
  const save = button("Download codes", { onclick: () => download("flowauth_backup_codes.txt", `${text}\n`) });
  return h(
    "div",
    { class: "backup-codes" },
    h("ol", { class: "codes", "aria-label": "Backup codes" }, codes.map((code) => h("li", { "data-cy": "backup_code" }, h("code", { text: code })))),
    h("div", { class: "row" }, copy, save),
    status,
  );
}

/** An SVG document's text (from our API) as an inline <svg> element, inert and scalable. */
function svgElement(svgText) {
  // parsed as HTML: an inline <svg> without xmlns still lands in the SVG namespace; nothing runs here
  const doc = new DOMParser().parseFromString(String(svgText), "text/html");
  const svg = doc.body.querySelector("svg");
  if (!svg) return null;
  svg.querySelectorAll("script, foreignObject").forEach((node) => node.remove());
  for (const node of [svg, ...svg.querySelectorAll("*")]) {
    for (const attr of [...node.attributes]) {
      if (attr.name.toLowerCase().startsWith("on") || attr.name.toLowerCase() === "style") node.removeAttribute(attr.name);
    }
  }
  if (!svg.getAttribute("viewBox")) {
    const width = parseFloat(svg.getAttribute("width"));
    const height = parseFloat(svg.getAttribute("height"));
    if (width && height) svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  }
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  return document.importNode(svg, true);
}

/**
 * Draw the wizard into `container`. `forced`: the user cannot use FlowAuth before finishing (no Cancel,
 * a Sign out instead). `onDone()` after confirmation; `onCancel()` / `onSignOut()` for the other buttons.
 */
export async function twoFactorWizard(container, { forced = false, onDone, onCancel, onSignOut }) {
  container.replaceChildren(h("p", { class: "loading", text: "Preparing two-factor setup…" }));
  const setup = await post("/user/enable_two_factor");
  // forced: a page of its own (h2, steps h3); from "My account": inside its two-factor card (steps h4)
  const stepTag = forced ? "h3" : "h4";
  const heading = forced ? h("h2", { tabindex: "-1", id: "wizard-heading", text: "Set up two-factor authentication" }) : null;
  const intro = forced
    ? h("p", { class: "notice", text: "Your administrator requires two-factor authentication for your account. Set it up to continue using FlowAuth." })
    : h("p", { text: "Two-factor authentication asks for a code from an authenticator app on your phone each time you sign in." });
  const body = h("div", { class: "wizard-step" });
  const leave = forced
    ? button("Sign out", { id: "wizard_signout", onclick: () => onSignOut?.() })
    : button("Cancel", { id: "wizard_cancel", onclick: () => onCancel?.() });
  leave.classList.add("push-left");
  const section = h("section", { class: "card wizard", "aria-label": "Two-factor setup" }, heading, intro, body);
  container.replaceChildren(section);
  heading?.focus();

  function stepCodes() {
    const submit = button("Continue", { class: "btn primary", "data-button-id": "submit", disabled: true, "aria-describedby": "codes-hint" });
    const hint = h("p", { class: "helper", id: "codes-hint", text: "Copy the codes first: Continue becomes available once you have." });
    const block = backupCodesBlock(setup.backup_codes, () => {
      submit.disabled = false;
      hint.textContent = "";
    });
    submit.addEventListener("click", stepQr);
    body.replaceChildren(
      h(stepTag, { text: "Step 1 of 2: save your backup codes" }),
      h("p", { text: "If you lose your phone, each of these codes lets you sign in once instead of an authenticator code. Keep them somewhere safe; they are not shown again." }),
      block,
      hint,
      h("div", { class: "actions" }, leave, submit),
    );
  }

  function stepQr() {
    const rawSecret = String(setup.secret).split(".")[0];
    const qr = h("div", { class: "qr", "data-id": "qr_code", "data-secret": setup.secret, role: "img", "aria-label": "QR code to scan with your authenticator app" });
    const svg = setup.qr_code_svg ? svgElement(setup.qr_code_svg) : null;
    if (svg) qr.append(svg);
    else qr.append(h("p", { class: "helper", text: "No QR code available: enter the key below in your app." }));
    const code = field({
      label: "Code from your authenticator app",
      id: "two_factor_code_setup",
      name: "two_factor_code",
      attrs: { autocomplete: "one-time-code", inputmode: "numeric", required: true, maxlength: "10" },
      help: "The six digits your app shows for FlowAuth.",
    });
    const confirm = h("button", { type: "submit", class: "btn primary", id: "confirm_two_factor", text: "Confirm" });
    const back = button("Back to the backup codes", { onclick: stepCodes });
    const form = h(
      "form",
      { novalidate: true, class: "stack" },
      h(stepTag, { text: "Step 2 of 2: connect your authenticator app" }),
      h("p", { text: "Scan this QR code with your authenticator app (for example Google Authenticator, Microsoft Authenticator, FreeOTP or Aegis), then type the code it shows." }),
      qr,
      h("p", { class: "secret" }, "Cannot scan it? Enter this key in the app by hand: ", h("code", { class: "break", id: "two_factor_secret", text: rawSecret })),
      code.wrap,
      h("div", { class: "actions" }, leave, back, confirm),
    );
    form.addEventListener(
      "submit",
      guard(async (event) => {
        event.preventDefault();
        const value = code.input.value.replace(/\s+/g, "");
        if (!value) {
          code.setError("Enter the code from your app.");
          code.input.focus();
          return;
        }
        code.setError(null);
        await post("/user/confirm_two_factor", { two_factor_code: value, secret: setup.secret, backup_codes_signature: setup.backup_codes_signature });
        snackbar("Two-factor authentication is on.");
        onDone?.();
      }, confirm),
    );
    body.replaceChildren(form);
    code.input.focus();
  }

  stepCodes();
}

/** Fresh backup codes (GET), shown to copy, stored (POST) only when the user says so. */
export async function regenerateBackupCodes(container, { onDone, onCancel }) {
  const fresh = await get("/user/generate_two_factor_backups");
  const store = button("Use these codes", { class: "btn primary", id: "store_backup_codes", "data-button-id": "submit", disabled: true });
  const hint = h("p", { class: "helper", text: "Copy the codes first. Your old backup codes stop working once you use these." });
  const block = backupCodesBlock(fresh.backup_codes, () => { store.disabled = false; });
  store.addEventListener(
    "click",
    guard(async () => {
      await post("/user/generate_two_factor_backups", { backup_codes_signature: fresh.backup_codes_signature });
      snackbar("New backup codes saved; the old ones no longer work.");
      onDone?.();
    }, store),
  );
  container.replaceChildren(
    h("h4", { text: "New backup codes" }),
    block,
    hint,
    h("div", { class: "actions" }, button("Cancel", { onclick: () => onCancel?.() }), store),
  );
}
