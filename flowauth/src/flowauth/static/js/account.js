// "My account": change password, turn two-factor authentication on or off, new backup codes.

import { ApiError, get, guard, patch, post, report } from "./api.js";
import { add, button, confirmDialog, field, fill, h, snackbar } from "./dom.js";
import { passwordField, REQUIRED_SCORE } from "./password.js";
import { regenerateBackupCodes, twoFactorWizard } from "./two_factor.js";

function passwordCard() {
  const old = field({ label: "Current password", id: "oldPassword", name: "password", type: "password", attrs: { autocomplete: "current-password" } });
  const fresh = passwordField({ label: "New password", id: "newPasswordA", name: "newPassword", help: "Use a long password: several unrelated words work well." });
  const again = field({ label: "Repeat the new password", id: "newPasswordB", name: "newPasswordB", type: "password", attrs: { autocomplete: "new-password" } });
  const save = h("button", { type: "submit", class: "btn primary", id: "change_password", text: "Save" });
  const form = h("form", { novalidate: true, class: "stack", "aria-labelledby": "password_title" }, old.wrap, fresh.wrap, again.wrap, h("div", { class: "actions" }, save));

  function matchCheck() {
    const problem = again.input.value && fresh.input.value !== again.input.value ? "Passwords do not match." : null;
    again.setError(problem);
    return !problem;
  }
  again.input.addEventListener("input", matchCheck);
  fresh.input.addEventListener("input", () => { if (again.input.value) matchCheck(); });

  form.addEventListener(
    "submit",
    guard(async (event) => {
      event.preventDefault();
      old.setError(null);
      fresh.setError(null);
      if (!old.input.value) {
        old.setError("Enter your current password.");
        old.input.focus();
        return;
      }
      if (!fresh.input.value) {
        fresh.setError("Enter a new password.");
        fresh.input.focus();
        return;
      }
      if (fresh.input.value !== again.input.value) {
        again.setError("Passwords do not match.");
        again.input.focus();
        return;
      }
      try {
        await patch("/user/password", { password: old.input.value, newPassword: fresh.input.value });
      } catch (err) {
        if (err instanceof ApiError) {
          const target = err.badField === "password" || /incorrect/i.test(err.message) ? old : err.badField === "newPassword" || /complex/i.test(err.message) ? fresh : null;
          target?.setError(err.message);
        }
        throw err;
      }
      old.input.value = "";
      fresh.reset();
      again.input.value = "";
      again.setError(null);
      snackbar("Password changed");
    }, save),
  );
  return h("section", { class: "card", "aria-labelledby": "password_title" }, h("h3", { id: "password_title", text: "Change password" }), form, h("p", { class: "helper", text: `A new password must reach the top strength (${REQUIRED_SCORE} of 4).` }));
}

async function twoFactorCard(ctx, rerender) {
  const card = h("section", { class: "card", id: "two_factor_card", "aria-labelledby": "two_factor_title" });
  const [{ two_factor_enabled: enabled }, { require_two_factor: required }] = await Promise.all([
    get("/user/two_factor_active"),
    get("/user/two_factor_required"),
  ]);
  const title = h("h3", { id: "two_factor_title", text: "Two-factor authentication" });
  const area = h("div", { class: "stack" });
  card.append(title, area);

  function overview() {
    if (enabled) {
      const disable = button("Turn off two-factor authentication", {
        id: "disable_two_factor",
        class: "btn danger",
        disabled: required,
        "aria-describedby": required ? "two_factor_required_note" : null,
      });
      disable.addEventListener(
        "click",
        guard(async () => {
          const ok = await confirmDialog({ title: "Turn off two-factor authentication?", message: "Signing in will only need your password, and your backup codes stop working.", ok: "Turn off" });
          if (!ok) return;
          await post("/user/disable_two_factor");
          snackbar("Two-factor authentication is off.");
          rerender();
        }, disable),
      );
      const reset = button("Get new backup codes", { id: "reset_two_factor", class: "btn" });
      reset.addEventListener("click", guard(() => regenerateBackupCodes(area, { onDone: overview, onCancel: overview }), reset));
      fill(area, 
        h("p", { id: "two_factor_status" }, h("span", { class: "badge on", text: "On" }), " Signing in asks for a code from your authenticator app."),
        required ? h("p", { class: "helper", id: "two_factor_required_note", text: "Your administrator requires two-factor authentication, so it cannot be turned off." }) : null,
        h("div", { class: "row" }, reset, disable),
      );
    } else {
      const start = button("Set up two-factor authentication", { id: "enable_two_factor", class: "btn primary" });
      start.addEventListener(
        "click",
        guard(async () => {
          await twoFactorWizard(area, { onDone: rerender, onCancel: overview });
        }, start),
      );
      fill(area, 
        h("p", { id: "two_factor_status" }, h("span", { class: "badge off", text: "Off" }), " Add a code from your phone to your password for safer sign-ins."),
        h("div", { class: "row" }, start),
      );
    }
  }
  overview();
  return card;
}

export async function render(container, ctx) {
  const rerender = () => ctx.go("#/account");
  add(container, ctx.heading("My account"), h("p", { class: "muted", text: ctx.user.username ? `Signed in as ${ctx.user.username}.` : "" }), passwordCard());
  try {
    add(container, await twoFactorCard(ctx, rerender));
  } catch (err) {
    report(err);
  }
}
