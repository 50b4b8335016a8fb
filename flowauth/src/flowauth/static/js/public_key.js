// Admin: the public key FlowAPI needs (PUBLIC_JWT_SIGNING_KEY) to check FlowAuth's tokens.

import { get } from "./api.js";
import { add, button, copyWithFeedback, download, h } from "./dom.js";

export async function render(container, ctx) {
  const { public_key: key } = await get("/admin/public_key");
  add(container, 
    ctx.heading("Public key"),
    h(
      "section",
      { class: "card stack" },
      h("p", { text: "FlowAPI checks the tokens FlowAuth issues with this key: give it to each FlowAPI as its PUBLIC_JWT_SIGNING_KEY." }),
      h("pre", { id: "public_key_body", class: "token-text", tabindex: "0", "aria-label": "Public key", text: key }),
      h(
        "div",
        { class: "row" },
        button("Download", { id: "download", class: "btn primary", onclick: () => download("flowauth_public_key.pem", key.endsWith("\n") ? key : `${key}\n`, "application/x-pem-file") }),
        button("Copy", { id: "copy_public_key", onclick: () => copyWithFeedback(key, "Public key copied") }),
      ),
    ),
  );
}
