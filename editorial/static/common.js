// What every page of the review site shares: its words, and posting JSON to the page's own API.
// The page's words come as data (body[data-strings], in the page's language); tr() fills them.
// Loaded before the page's own script (review.js, variants.js), as a classic script: these are globals.
"use strict";

const STRINGS = JSON.parse(document.body.dataset.strings || "{}");

function tr(key, values) {
  let text = Object.prototype.hasOwnProperty.call(STRINGS, key) ? STRINGS[key] : key;
  for (const [name, value] of Object.entries(values || {})) text = text.split("{" + name + "}").join(String(value));
  return text;
}

async function postJson(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({ error: tr("js.answered", { status: response.status }) }));
  return { response, data };
}
