// A password field with a strength meter (POST /user/password_strength, zxcvbn on the server), a Show
// toggle and, optionally, a "Generate" button making a random 16-character password.

import { Handled, post } from "./api.js";
import { button, h, uid } from "./dom.js";

const WORDS = ["Very weak", "Weak", "Fair", "Good", "Strong"];
export const REQUIRED_SCORE = 4; // FlowKit accepts a new password only with zxcvbn's top score

/** A random password: 16 characters from letters, digits and symbols, at least one of each kind. */
export function generatePassword(length = 16) {
  const sets = ["ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789", "!#$%&*+-=?@^_~"];
  const all = sets.join("");
  const pick = (chars) => {
    const limit = 256 - (256 % chars.length);
    const byte = new Uint8Array(1);
    do crypto.getRandomValues(byte); while (byte[0] >= limit);
    return chars[byte[0] % chars.length];
  };
  const chars = sets.map(pick);
  while (chars.length < length) chars.push(pick(all));
  for (let i = chars.length - 1; i > 0; i -= 1) {
    const j = Math.floor((crypto.getRandomValues(new Uint32Array(1))[0] / 2 ** 32) * (i + 1));
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join("");
}

/**
 * Options: label, id, name, help (shown while empty), autocomplete, generate (adds the Generate button),
 * onChange(). Returns {wrap, input, setError, strength(): the last score or null, settle(): a promise of
 * the score of the current value}.
 */
export function passwordField({ label, id, name, help = "", autocomplete = "new-password", generate = false, onChange = () => {} }) {
  const inputId = id || uid("password");
  const helpId = `${inputId}-helper`;
  const meterId = `${inputId}-strength`;
  const input = h("input", { id: inputId, name: name || inputId, type: "password", autocomplete, spellcheck: "false", "aria-describedby": `${meterId} ${helpId}` });
  const meter = h("meter", { min: "0", max: "4", low: "2", high: "3", optimum: "4", value: "0", "aria-hidden": "true" });
  const meterText = h("span", { class: "strength-text" });
  const meterWrap = h("div", { class: "strength", id: meterId, "aria-live": "polite", hidden: true }, meter, meterText);
  const helper = h("p", { class: "helper", id: helpId, text: help });
  const show = button("Show", { class: "btn small", "aria-controls": inputId, "aria-pressed": "false" });
  show.addEventListener("click", () => {
    const visible = input.type === "password";
    input.type = visible ? "text" : "password";
    show.textContent = visible ? "Hide" : "Show";
    show.setAttribute("aria-pressed", String(visible));
  });
  const extras = [show];
  if (generate) {
    extras.push(
      button("Generate", {
        class: "btn small",
        id: `${inputId}_generate`,
        title: "Fill in a random strong password",
        onclick: () => {
          input.value = generatePassword();
          input.type = "text";
          show.textContent = "Hide";
          show.setAttribute("aria-pressed", "true");
          input.dispatchEvent(new Event("input", { bubbles: true }));
          input.focus();
        },
      }),
    );
  }
  const wrap = h("div", { class: "field" }, h("label", { for: inputId, text: label }), h("div", { class: "input-row" }, input, extras), meterWrap, helper);

  let score = null;
  let seq = 0;
  let timer = null;
  let pending = Promise.resolve(null);
  let error = null;

  function describe(answer) {
    if (error) return;
    const tips = [answer.warning, ...(answer.suggestions || [])].filter(Boolean);
    if (answer.score >= REQUIRED_SCORE) helper.textContent = tips.length ? `Strong enough. ${tips[0]}` : "Strong enough.";
    else helper.textContent = `${tips[0] ? `${tips[0]} ` : ""}Add more words or characters: only the strongest passwords are accepted.`;
    helper.classList.toggle("warn", answer.score < REQUIRED_SCORE);
  }

  function measure() {
    const value = input.value;
    seq += 1;
    const mine = seq;
    clearTimeout(timer);
    if (!value) {
      score = null;
      meterWrap.hidden = true;
      if (!error) {
        helper.textContent = help;
        helper.classList.remove("warn");
      }
      pending = Promise.resolve(null);
      onChange();
      return;
    }
    score = null;
    onChange();
    pending = new Promise((resolve) => {
      timer = setTimeout(async () => {
        try {
          const answer = await post("/user/password_strength", { password: value });
          if (mine !== seq) return resolve(score);
          score = Number(answer.score);
          meter.value = score;
          meterText.textContent = `Strength: ${WORDS[score] ?? score}`;
          meterWrap.hidden = false;
          describe(answer);
        } catch (err) {
          if (!(err instanceof Handled) && mine === seq) {
            helper.textContent = `Could not check the password's strength: ${err.message}`;
            helper.classList.add("warn");
          }
          if (err instanceof Handled) return resolve(null);
        }
        onChange();
        resolve(score);
      }, 250);
    });
  }

  input.addEventListener("input", measure);
  return {
    wrap,
    input,
    strength: () => score,
    settle: () => pending,
    setError(text) {
      error = text || null;
      if (text) {
        input.setAttribute("aria-invalid", "true");
        helper.textContent = text;
        helper.classList.add("error");
      } else {
        input.removeAttribute("aria-invalid");
        helper.classList.remove("error");
        helper.textContent = help;
      }
    },
    reset() {
      input.value = "";
      measure();
    },
  };
}
