// The review page's few behaviours. Data is only ever written with textContent.
// The reviewer's name is not sent: the page takes it from the signed-in session.
"use strict";

const player = document.getElementById("player");
for (const button of document.querySelectorAll("[data-time]")) {
  button.addEventListener("click", () => {
    if (!player) return;
    player.currentTime = parseFloat(button.dataset.time);
    player.pause();
  });
}

const form = document.getElementById("decision");
const result = document.getElementById("result");
const statusText = document.getElementById("status");

async function followStatus(url) {
  // The run resumes in the background; show where it gets to.
  let sawProducing = false;
  for (let i = 0; i < 600; i++) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (response.ok) {
      const data = await response.json();
      statusText.textContent = data.status;
      // approved is on its way to published: the run is copying the files and rebuilding the feeds.
      const busy = ["producing", "regenerating", "approved"].includes(data.status);
      sawProducing = sawProducing || busy;
      const back = sawProducing && data.status === "awaiting_review"; // regenerated, in the queue again
      if (back || (data.status !== "awaiting_review" && !busy)) {
        result.textContent = "Done: " + data.status + ".";
        return;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const decision = event.submitter ? event.submitter.value : "approve";
    const body = {
      decision: decision,
      notes: form.elements.notes.value,
      version: form.elements.version.value, // the version on screen: a newer one at the gate refuses this
    };
    if (decision === "regenerate") {
      body.shots = Array.from(form.querySelectorAll("input[name=shots]:checked"), (box) => parseInt(box.value, 10));
    }
    for (const button of form.querySelectorAll("button")) button.disabled = true;
    result.textContent = "Sending " + decision + "…";
    const response = await fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({ error: "the page answered " + response.status }));
    if (!response.ok) {
      result.textContent = "Not sent: " + (data.error || response.status);
      // 409: the episode changed under the reviewer; deciding again needs a reload, not a retry.
      if (response.status !== 409) {
        for (const button of form.querySelectorAll("button")) button.disabled = false;
      }
      return;
    }
    result.textContent = "Sent: " + data.decision + ". The run resumes; status " + data.status + ".";
    form.hidden = true;
    followStatus(form.action.replace(/\/decision$/, "/status"));
  });
}
