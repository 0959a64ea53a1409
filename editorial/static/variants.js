// The variants pages' few behaviours: marking takes, starting a sweep, using the selected take.
// Data is only ever written with textContent; the reviewer's name comes from the session.
// tr() and postJson() come from common.js, loaded first.
"use strict";

const result = document.getElementById("result");

// ---- marking takes -------------------------------------------------------------------------
const useForm = document.getElementById("use-take");
const useButton = document.getElementById("use-button");

function selectedTake() {
  const card = document.querySelector(".take.selected");
  return card ? card.dataset.take : null;
}

function refreshUse() {
  if (useButton) useButton.disabled = !selectedTake();
}

for (const button of document.querySelectorAll(".take button.mark")) {
  button.addEventListener("click", async () => {
    const card = button.closest(".take");
    const sweep = document.getElementById("sweep-meta").dataset.statusUrl.replace(/\/status$/, "");
    const state = button.dataset.state;
    const answer = await postJson(sweep + "/takes/" + encodeURIComponent(card.dataset.take), { state: state });
    if (!answer.response.ok) {
      result.textContent = tr("js.var.not_marked", { error: answer.data.error || answer.response.status });
      return;
    }
    if (state === "selected") {
      // One take is selected at a time: the server put the one selected before back to maybe.
      for (const other of document.querySelectorAll(".take.selected")) {
        other.classList.remove("selected");
        other.classList.add("maybe");
        for (const b of other.querySelectorAll("button.mark")) b.setAttribute("aria-pressed", String(b.dataset.state === "maybe"));
      }
    }
    card.classList.remove("unmarked", "rejected", "maybe", "selected");
    card.classList.add(state);
    for (const b of card.querySelectorAll("button.mark")) b.setAttribute("aria-pressed", String(b === button));
    result.textContent = answer.data.written ? tr("js.var.written", { take: card.dataset.take })
      : tr("js.var.marked", { take: card.dataset.take, state: tr("js.var.state." + state) });
    refreshUse();
  });
}
refreshUse();

if (useForm) {
  useForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const take = selectedTake();
    if (!take) return;
    const shot = parseInt(useForm.dataset.shot, 10);
    const notes = useForm.elements.notes.value.trim() || tr("js.var.use_notes", { take: take, sweep: useForm.dataset.sweep });
    useButton.disabled = true;
    result.textContent = tr("js.var.sending");
    const answer = await postJson(useForm.action, {
      decision: "regenerate",
      shots: [shot],
      take: useForm.dataset.sweep + "/" + take,
      notes: notes,
      version: useForm.dataset.version,
    });
    if (!answer.response.ok) {
      result.textContent = tr("js.var.not_sent", { error: answer.data.error || answer.response.status });
      if (answer.response.status !== 409) useButton.disabled = false;
      return;
    }
    result.textContent = tr("js.var.sent", { take: take, status: answer.data.status });
    window.location.href = useForm.dataset.episodeUrl;
  });
}

// ---- following a sweep that is still being made ----------------------------------------------
const meta = document.getElementById("sweep-meta");
const statusText = document.getElementById("sweep-status");
if (meta && statusText && ["queued", "running"].includes(statusText.textContent.trim())) {
  (async () => {
    for (let i = 0; i < 1800; i++) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const response = await fetch(meta.dataset.statusUrl, { credentials: "same-origin" });
      if (!response.ok) continue;
      const data = await response.json();
      const made = data.takes.filter((t) => t.made).length;
      statusText.textContent = tr("js.var.progress", { status: data.status, made: made, total: data.takes.length });
      if (!["queued", "running"].includes(data.status)) {
        window.location.reload(); // the takes, the grid and the side-by-side video are in
        return;
      }
    }
  })();
}

// ---- opening a sweep -----------------------------------------------------------------------
const sweepForm = document.getElementById("sweep-form");
function sweepKnobs() {
  const knobs = {};
  const own = {};
  for (const box of sweepForm.querySelectorAll("input[type=checkbox]:checked")) {
    (knobs[box.name] = knobs[box.name] || []).push(box.value);
    if (box.defaultChecked) own[box.name] = box.value;
  }
  // A knob left at the shot's own value alone is not swept.
  for (const [name, values] of Object.entries(knobs)) {
    if (values.length === 1 && values[0] === own[name]) delete knobs[name];
  }
  const word = document.getElementById("strength-word").value.trim();
  const values = document.getElementById("strength-values").value.split(",").map((v) => v.trim()).filter(Boolean);
  if (word && values.length) knobs["strength:" + word] = values;
  return knobs;
}
function countTakes() {
  let count = Math.max(1, parseInt(document.getElementById("seeds").value, 10) || 1);
  const knobs = sweepKnobs();
  for (const values of Object.values(knobs)) count *= values.length;
  // The shot as it is always comes first: one more take when its own values are not among those ticked.
  let ownIncluded = true;
  for (const box of sweepForm.querySelectorAll("input[type=checkbox]")) {
    if (box.defaultChecked && knobs[box.name] && !box.checked) ownIncluded = false;
  }
  for (const [name, values] of Object.entries(knobs)) {
    if (name.startsWith("strength:") && !values.some((v) => parseFloat(v) === 1)) ownIncluded = false;
  }
  document.getElementById("take-count").textContent = String(count + (ownIncluded ? 0 : 1));
}
if (sweepForm) {
  sweepForm.addEventListener("input", countTakes);
  countTakes();
  sweepForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = document.getElementById("start-sweep");
    button.disabled = true;
    result.textContent = tr("js.var.starting");
    const answer = await postJson(sweepForm.action, {
      shot: parseInt(sweepForm.dataset.shot, 10),
      knobs: sweepKnobs(),
      seeds: parseInt(document.getElementById("seeds").value, 10) || 1,
    });
    if (!answer.response.ok) {
      result.textContent = tr("js.var.not_started", { error: answer.data.error || answer.response.status });
      button.disabled = false;
      return;
    }
    window.location.href = answer.data.url;
  });
}
