// Admin: users. The list, and the form to create or edit one (username, password with strength meter and
// generator, admin, two-factor required/enabled, roles grouped by server).

import { ApiError, del, get, guard, patch, post } from "./api.js";
import { add, checkbox, field, h, nameProblem, snackbar } from "./dom.js";
import { listPage, listRows } from "./lister.js";
import { passwordField, REQUIRED_SCORE } from "./password.js";

export async function list(container, ctx) {
  const users = await get("/admin/users");
  users.sort((a, b) => a.name.localeCompare(b.name));
  listPage(container, ctx, {
    title: "Users",
    what: "user",
    newLabel: "New user",
    newHash: "#/admin/users/new",
    intro: "People who can sign in to FlowAuth. Give them roles so they can create tokens.",
    body: listRows({
      what: "user",
      items: users,
      name: (u) => u.name,
      editHash: (u) => `#/admin/users/${u.id}`,
      remove: (u) => del(`/admin/users/${u.id}`),
      afterRemove: () => ctx.go("#/admin/users"),
    }),
  });
}

/** Role checkboxes ([data-role-id]) grouped by server; returns {wrap, chosen(): ids}. */
function rolePicker(roles, servers, chosenIds) {
  const serverName = new Map(servers.map((s) => [s.id, s.name]));
  const groups = new Map();
  for (const role of roles) {
    const key = serverName.get(role.server) ?? `Server ${role.server}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(role);
  }
  const boxes = [];
  const sets = [...groups.keys()].sort().map((server) =>
    h(
      "fieldset",
      { class: "role-group", "data-server-name": server },
      h("legend", { text: server }),
      groups
        .get(server)
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((role) => {
          const box = checkbox({ label: role.name, id: `user_role_${role.id}`, attrs: { "data-role-id": role.id, value: String(role.id) }, checked: chosenIds.has(role.id) });
          boxes.push({ role, input: box.input });
          return box.wrap;
        }),
    ),
  );
  const wrap = h(
    "div",
    { class: "field" },
    h("h3", { id: "user_roles_title", text: "Roles" }),
    roles.length ? h("div", { class: "role-groups", role: "group", "aria-labelledby": "user_roles_title" }, sets) : h("p", { class: "muted", text: "No roles exist yet: create them under Roles." }),
  );
  return { wrap, chosen: () => boxes.filter((b) => b.input.checked).map((b) => b.role.id) };
}

export async function form(container, ctx, userId) {
  const editing = userId !== null;
  const [roles, servers, user] = await Promise.all([
    get("/roles/"),
    get("/admin/servers"),
    editing ? get(`/admin/users/${userId}`) : Promise.resolve(null),
  ]);
  const username = field({
    label: "Username",
    id: "username",
    name: "username",
    value: user?.name ?? "",
    attrs: { autocomplete: "off", maxlength: "75", spellcheck: "false", autocapitalize: "none" },
    help: "Letters, numbers and underscores.",
  });
  const password = passwordField({
    label: editing ? "Reset password" : "Password",
    id: "password",
    name: "password",
    generate: true,
    help: editing ? "Leave empty to keep the current password." : "Type a strong password or press Generate; tell the user and ask them to change it.",
  });
  const isAdmin = checkbox({ label: "User is admin", id: "is_admin", name: "is_admin", checked: Boolean(user?.is_admin), help: "Admins manage users, servers and roles." });
  const requireTwoFactor = checkbox({
    label: "Two-factor authentication required",
    id: "require_two_factor",
    name: "require_two_factor",
    checked: Boolean(user?.require_two_factor),
    help: "The user must set up an authenticator app at their next sign-in.",
  });
  const hasTwoFactor = editing
    ? checkbox({
        label: "Two-factor authentication enabled",
        id: "has_two_factor",
        name: "has_two_factor",
        checked: Boolean(user?.has_two_factor),
        disabled: !user?.has_two_factor,
        help: user?.has_two_factor ? "Turn off to reset it (for a lost phone): the user then sets it up again." : "Only the user can turn this on, from My account.",
      })
    : null;
  const chosen = new Set((user?.roles || []).map((r) => (typeof r === "object" ? r.id : r)));
  const picker = rolePicker(roles, servers, chosen);
  const save = h("button", { type: "submit", id: "save", class: "btn primary", text: "Save" });
  const cancel = h("a", { href: "#/admin/users", id: "cancel", class: "btn", text: "Cancel" });
  const theForm = h(
    "form",
    { novalidate: true, class: "card stack", "aria-label": editing ? "Edit user" : "New user" },
    username.wrap,
    password.wrap,
    h("div", { class: "switches" }, isAdmin.wrap, requireTwoFactor.wrap, hasTwoFactor?.wrap),
    picker.wrap,
    h("div", { class: "actions" }, cancel, save),
  );

  const checkName = () => {
    const problem = nameProblem(username.input.value, "Username", "can not");
    username.setError(problem);
    return !problem;
  };
  username.input.addEventListener("input", checkName);

  theForm.addEventListener(
    "submit",
    guard(async (event) => {
      event.preventDefault();
      if (!checkName()) {
        username.input.focus();
        return;
      }
      password.setError(null);
      const pw = password.input.value;
      if (!editing && !pw) {
        password.setError("Password must be provided.");
        password.input.focus();
        return;
      }
      if (pw) {
        const score = await password.settle();
        if (score !== null && score < REQUIRED_SCORE) {
          password.setError("Password not complex enough: make it longer or press Generate.");
          password.input.focus();
          return;
        }
      }
      const body = {
        username: username.input.value,
        is_admin: isAdmin.input.checked,
        require_two_factor: requireTwoFactor.input.checked,
        roles: picker.chosen(),
      };
      if (pw) body.password = pw;
      try {
        if (editing) {
          if (hasTwoFactor && user.has_two_factor && !hasTwoFactor.input.checked) body.has_two_factor = false;
          await patch(`/admin/users/${userId}`, body);
        } else {
          await post("/admin/users", body);
        }
      } catch (err) {
        if (err instanceof ApiError) {
          if (err.badField === "username") username.setError(err.message);
          if (err.badField === "password") password.setError(err.message);
        }
        throw err;
      }
      snackbar(`Saved user ${body.username}.`);
      await ctx.refreshServers();
      ctx.go("#/admin/users");
    }, save),
  );

  add(container, ctx.heading(editing ? "Edit User" : "New User"), theForm);
  if (!editing) username.input.focus();
}
