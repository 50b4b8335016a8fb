// The admin list pattern (FlowKit's "Lister"): a heading, #new, one row per item with
// [data-action=edit][data-item-name=…] and [data-action=rm][data-item-name=…]; delete asks first.

import { guard } from "./api.js";
import { add, button, confirmDialog, h, snackbar } from "./dom.js";

/**
 * Options: title, what ("user"), newLabel, newHash, items [{…}], name(item), editHash(item),
 * detail(item) (an optional caption node/text), remove(item) (async; deletes), afterRemove().
 */
export function listRows({ what, items, name, editHash, detail, remove, afterRemove, extraAttrs = () => ({}) }) {
  if (!items.length) return h("p", { class: "muted", text: `No ${what}s yet.` });
  return h(
    "ul",
    { class: "item-list" },
    items.map((item) => {
      const itemName = name(item);
      const rm = button("Delete", { class: "btn small danger-text", "data-action": "rm", "data-item-name": itemName, "aria-label": `Delete ${what} ${itemName}`, ...extraAttrs(item, "rm") });
      rm.addEventListener(
        "click",
        guard(async () => {
          const ok = await confirmDialog({ title: `Delete ${what} ${itemName}?`, message: `This deletes the ${what} “${itemName}” for good.` });
          if (!ok) return;
          await remove(item);
          snackbar(`Deleted ${what} ${itemName}.`);
          await afterRemove?.();
        }, rm),
      );
      return h(
        "li",
        { class: "item", "data-row-name": itemName },
        h("div", { class: "item-info" }, h("a", { href: editHash(item), class: "item-name", text: itemName }), detail ? h("span", { class: "caption" }, detail(item)) : null),
        h(
          "div",
          { class: "row actions-inline" },
          h("a", { href: editHash(item), class: "btn small", "data-action": "edit", "data-item-name": itemName, "aria-label": `Edit ${what} ${itemName}`, ...extraAttrs(item, "edit") }, "Edit"),
          rm,
        ),
      );
    }),
  );
}

export function listPage(container, ctx, { title, what, newLabel, newHash, intro, body }) {
  add(container, 
    ctx.heading(title),
    intro ? h("p", { class: "muted", text: intro }) : null,
    h("div", { class: "toolbar" }, h("a", { href: newHash, id: "new", class: "btn primary", "data-cy": "new" }, newLabel || `New ${what}`)),
    body,
  );
}
