// The review page's few behaviours. Data is only ever written with textContent.
// The reviewer's name is not sent: the page takes it from the signed-in session.
// tr() and postJson() come from common.js, loaded first.
"use strict";

// ---- keyboard shortcuts ---------------------------------------------------------------------
// Never while typing (a text box, a list, anything editable) and never with Ctrl, Alt or Meta:
// those keys belong to the text and to the browser.

const shortcuts = {};

// A ticked box or a radio button holds the focus without taking text: keys still work there.
const NOT_TEXT = ["checkbox", "radio", "button", "submit", "reset"];

function typing(element) {
  if (!element || element === document.body) return false;
  if (element.isContentEditable) return true;
  if (element.tagName === "INPUT") return !NOT_TEXT.includes(element.type);
  return ["TEXTAREA", "SELECT"].includes(element.tagName) || element.closest("[contenteditable]") !== null;
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || event.isComposing) return;
  if (typing(event.target) || typing(document.activeElement)) return;
  // Enter and Space keep their own meaning on a link, a button or the player's controls.
  const native = event.target.closest && event.target.closest("a, button, video, summary, input");
  if ((event.key === "Enter" || event.key === " ") && native) return;
  const handler = shortcuts[event.key];
  if (handler && handler(event) !== false) event.preventDefault();
});

const help = document.getElementById("help");
if (help) {
  const toggle = () => { help.hidden = !help.hidden; };
  shortcuts["?"] = toggle;
  document.getElementById("help-close").addEventListener("click", toggle);
}

function go(link) {
  if (!link) return false;
  window.location.assign(link.href);
  return true;
}

// The queue: n / p (or j / k) move through it as listed, Enter opens.
const rows = Array.from(document.querySelectorAll("#queue tr.item"));
if (rows.length) {
  let selected = -1;
  const select = (index) => {
    if (selected >= 0) rows[selected].classList.remove("selected");
    selected = Math.max(0, Math.min(rows.length - 1, index));
    rows[selected].classList.add("selected");
    rows[selected].scrollIntoView({ block: "nearest" });
  };
  shortcuts.n = shortcuts.j = () => select(selected + 1);
  shortcuts.p = shortcuts.k = () => select(selected < 0 ? 0 : selected - 1);
  shortcuts.Enter = shortcuts.o = () => (selected < 0 ? false : go(rows[selected].querySelector("a")));
}

// ---- the episode: player, findings, decision ------------------------------------------------

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

if (document.getElementById("pager")) {
  shortcuts.n = shortcuts.j = () => go(document.getElementById("next-episode"));
  shortcuts.p = shortcuts.k = () => go(document.getElementById("prev-episode"));
}

if (player) {
  const frame = 1 / (parseFloat(player.dataset.fps) || 24);
  const step = (direction) => {
    player.pause();
    player.currentTime = Math.max(0, Math.min(player.duration || Infinity, player.currentTime + direction * frame));
  };
  shortcuts[" "] = () => { if (player.paused) player.play(); else player.pause(); };
  shortcuts[","] = () => step(-1);
  shortcuts["."] = () => step(1);
  const findings = Array.from(document.querySelectorAll("button.finding"));
  shortcuts.f = () => {
    if (!findings.length) {
      if (result) result.textContent = tr("js.no_findings");
      return;
    }
    // The first finding after the playhead; after the last one, back to the first.
    const now = player.currentTime + 0.01;
    const next = findings.find((b) => parseFloat(b.dataset.time) > now) || findings[0];
    for (const b of findings) b.parentElement.classList.remove("selected");
    next.parentElement.classList.add("selected");
    next.click();
    if (result) result.textContent = tr("js.finding_at", { time: next.dataset.time });
  };
}

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
        result.textContent = tr("js.done", { status: data.status });
        return;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

if (form) {
  const confirmBox = document.getElementById("confirm");
  let pending = null; // the decision a key chose, waiting for Enter
  let sending = false;

  const buttons = () => form.querySelectorAll("button");

  async function send(decision) {
    if (sending) return;
    sending = true;
    const body = {
      decision: decision,
      notes: form.elements.notes.value,
      version: form.elements.version.value, // the version on screen: a newer one at the gate refuses this
    };
    if (decision === "regenerate") {
      body.shots = Array.from(form.querySelectorAll("input[name=shots]:checked"), (box) => parseInt(box.value, 10));
    }
    for (const button of buttons()) button.disabled = true;
    result.textContent = tr("js.sending", { decision: decision });
    const { response, data } = await postJson(form.action, body);
    sending = false;
    if (!response.ok) {
      result.textContent = tr("js.not_sent", { error: data.error || response.status });
      // 409: the episode changed under the reviewer; deciding again needs a reload, not a retry.
      if (response.status !== 409) {
        for (const button of buttons()) button.disabled = false;
      }
      return;
    }
    result.textContent = tr("js.sent", { decision: data.decision, status: data.status });
    form.hidden = true;
    followStatus(form.action.replace(/\/decision$/, "/status"));
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    cancel(false);
    send(event.submitter ? event.submitter.value : "approve");
  });

  // A key only chooses the decision; Enter sends it, through the same POST as the buttons.
  const choose = (decision) => {
    if (form.hidden || sending) return false;
    if (decision === "reject" && !form.elements.notes.value.trim()) {
      // The gate refuses a rejection without notes: ask for them instead of a confirmation bound to fail.
      result.textContent = tr("js.reject_needs_notes");
      form.elements.notes.focus();
      return true;
    }
    pending = decision;
    // Enter must reach the confirmation, not a button or link that still has the focus.
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
    confirmBox.textContent = tr("js.confirm." + decision);
    confirmBox.dataset.decision = decision;
    confirmBox.hidden = false;
    return true;
  };
  function cancel(say) {
    if (pending === null) return false;
    pending = null;
    confirmBox.hidden = true;
    delete confirmBox.dataset.decision;
    if (say) result.textContent = tr("js.cancelled");
    return true;
  }
  shortcuts.a = () => choose("approve");
  shortcuts.r = () => choose("reject");
  shortcuts.g = () => choose("regenerate");
  shortcuts.Enter = () => {
    if (pending === null) return false;
    const decision = pending;
    cancel(false);
    send(decision);
    return true;
  };
  shortcuts.Escape = () => cancel(true) || (help && !help.hidden ? (help.hidden = true) : false);
} else if (help) {
  shortcuts.Escape = () => (help.hidden ? false : (help.hidden = true));
}

// ---- a new episode: screened as typed, planned, started ---------------------------------------

const newForm = document.getElementById("new-episode-form");
if (newForm) {
  const story = document.getElementById("story");
  const marked = document.getElementById("marked");
  const screenResult = document.getElementById("screen-result");
  const reasons = document.getElementById("screen-reasons");
  const startButton = document.getElementById("start-button");
  const planButton = document.getElementById("plan-button");
  const newResult = document.getElementById("new-result");
  const planSection = document.getElementById("plan-section");
  const planBody = document.querySelector("#plan-table tbody");
  const choices = JSON.parse(newForm.dataset.choices || "{}");
  let screened = { text: null, action: null }; // the last screen's text and verdict
  let plan = null; // the plan as planned, with the editor's edits
  let timer = null;
  let asked = 0;

  const fieldsOf = () => {
    const fields = {};
    for (const name of ["story", "title", "language", "preset", "series", "id"]) {
      const value = newForm.elements[name].value;
      if (value !== "" || name === "story") fields[name] = value;
    }
    return fields;
  };

  // Start only for the text on screen, screened and not blocked. The server checks it all again.
  const refresh = () => {
    startButton.disabled = !(story.value.trim() && screened.text === story.value && screened.action !== "block");
  };

  const showList = (list, items) => {
    list.replaceChildren(...items.map((item) => {
      const li = document.createElement("li");
      li.textContent = item;
      return li;
    }));
  };

  // The text with each matched span in a <mark>: built from text nodes, never from markup.
  const showSpans = (text, spans) => {
    const nodes = [];
    let at = 0;
    for (const span of [...spans].sort((x, y) => x.start - y.start)) {
      if (span.end <= at) continue; // inside one already marked
      const start = Math.max(span.start, at);
      if (start > at) nodes.push(document.createTextNode(text.slice(at, start)));
      const mark = document.createElement("mark");
      mark.className = span.action;
      mark.title = span.term + " (" + span.category + ", " + span.layer + ")";
      mark.textContent = text.slice(start, span.end);
      nodes.push(mark);
      at = span.end;
    }
    if (at < text.length) nodes.push(document.createTextNode(text.slice(at)));
    marked.replaceChildren(...nodes);
    marked.hidden = spans.length === 0;
  };

  const screenNow = async () => {
    const text = story.value;
    const mine = ++asked;
    if (!text.trim()) {
      screened = { text: null, action: null };
      screenResult.textContent = tr("js.screen.empty");
      screenResult.className = "muted";
      showList(reasons, []);
      showSpans("", []);
      refresh();
      return;
    }
    screenResult.textContent = tr("js.screen.busy");
    screenResult.className = "muted";
    const { response, data } = await postJson("/new/screen", { text });
    if (mine !== asked) return; // a newer screen is on its way
    if (!response.ok) {
      screened = { text: null, action: null };
      screenResult.textContent = tr("js.screen.failed", { error: data.error || response.status });
      refresh();
      return;
    }
    screened = { text, action: data.action };
    const verdict = data.action === "block" ? "block" : data.action === "allow" ? "allow" : "review";
    screenResult.textContent = tr("js.screen." + verdict);
    screenResult.className = verdict;
    screenResult.dataset.action = data.action;
    showList(reasons, data.reasons);
    showSpans(text, data.spans);
    refresh();
  };

  const dropPlan = () => {
    plan = null;
    planSection.hidden = true;
    planBody.replaceChildren();
  };

  story.addEventListener("input", () => {
    screened = { text: null, action: null };
    refresh();
    dropPlan(); // a plan of another text would start with the wrong shots
    clearTimeout(timer);
    timer = setTimeout(screenNow, 400);
  });
  for (const name of ["language", "preset"]) newForm.elements[name].addEventListener("change", dropPlan);

  const cell = (row, element) => {
    const td = document.createElement("td");
    td.appendChild(element);
    row.appendChild(td);
  };

  const editor = (shot, field) => {
    let input;
    if (choices[field]) {
      input = document.createElement("select");
      for (const choice of choices[field]) {
        const option = document.createElement("option");
        option.value = option.textContent = choice;
        input.appendChild(option);
      }
    } else {
      input = document.createElement(field === "text" ? "textarea" : "input");
      if (field === "duration_s") {
        input.type = "number";
        input.step = "0.1";
        input.min = "0.5";
        input.style.width = "4.5em";
      }
      if (field === "text") input.rows = 2;
    }
    input.name = field;
    input.value = shot[field] == null ? "" : String(shot[field]);
    input.addEventListener("change", () => {
      shot[field] = field === "duration_s" ? parseFloat(input.value) : input.value;
    });
    return input;
  };

  const showPlan = () => {
    planBody.replaceChildren();
    plan.shots.forEach((shot, k) => {
      const row = document.createElement("tr");
      const number = document.createElement("span");
      number.textContent = String(k + 1);
      cell(row, number);
      for (const field of ["duration_s", "text", "subject", "action", "environment", "camera", "shot_size",
        "time_of_day", "weather"]) cell(row, editor(shot, field));
      planBody.appendChild(row);
    });
    document.getElementById("plan-count").textContent = tr("js.plan.shots", { count: plan.shots.length });
    planSection.hidden = false;
  };

  planButton.addEventListener("click", async () => {
    newResult.textContent = tr("js.plan.busy");
    const { response, data } = await postJson("/new/plan", fieldsOf());
    if (!response.ok) {
      newResult.textContent = tr("js.plan.failed", { error: data.error || response.status });
      dropPlan();
      return;
    }
    newResult.textContent = "";
    if (!newForm.elements.id.value) newForm.elements.id.value = data.episode_id;
    plan = data.plan;
    showPlan();
  });

  newForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (startButton.disabled) return;
    startButton.disabled = true;
    newResult.textContent = tr("js.start.busy");
    const body = fieldsOf();
    if (plan) body.plan = plan;
    const { response, data } = await postJson(newForm.action, body);
    if (!response.ok) {
      newResult.textContent = tr("js.start.failed", { error: data.error || response.status });
      refresh();
      return;
    }
    newResult.textContent = tr(data.attached ? "js.start.attached" : "js.start.started", { episode: data.episode_id });
    const link = document.createElement("a");
    link.href = data.url;
    link.id = "started-link";
    link.textContent = tr("js.start.open");
    newResult.appendChild(link);
  });
}
