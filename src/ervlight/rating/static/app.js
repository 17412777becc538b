// ervlight rating page: one item at a time, keyboard first; every answer is saved by the server before moving on.
"use strict";

const KEYS = "1234567890abcdefghijklmnopqrstuvwxyz";
const $ = (id) => document.getElementById(id);
let rater = null;
let setup = null;     // /api/state: total, rated, position, hide_answer, coherence, unclear
let item = null;      // /api/item payload
let answers = {};     // emotion, supports, coherence of the current item
let active = 0;       // index into questions()

function questions() {
  return setup.hide_answer ? ["emotion", "coherence"] : ["emotion", "supports", "coherence"];
}

function options(name) {
  if (name === "emotion") {
    return [...item.labels, setup.unclear].map((label, i) => ({ value: label, key: KEYS[i] || "", text: label }));
  }
  if (name === "supports") {
    return [{ value: true, key: "y", text: "yes" }, { value: false, key: "n", text: "no" }];
  }
  return setup.coherence.map((score) => ({ value: score, key: String(score), text: String(score) }));
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  const payload = await response.json();
  if (!response.ok) throw new Error(payload.error || response.statusText);
  return payload;
}

function status(text, ok = false) {
  $("status").textContent = text;
  $("status").className = ok ? "ok" : "";
}

function progress() {
  const at = item ? item.index + 1 : setup.total;
  $("progress").textContent = `${at} of ${setup.total} · rated ${setup.rated}`;
}

function render() {
  for (const name of ["emotion", "supports", "coherence"]) {
    const box = $(`q-${name}`);
    box.hidden = !questions().includes(name);
    if (box.hidden) continue;
    box.classList.toggle("active", questions()[active] === name);
    const holder = box.querySelector(".options");
    holder.replaceChildren(...options(name).map((option) => {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.value = String(option.value);
      button.classList.toggle("chosen", answers[name] === option.value);
      button.append(option.text + " ");
      const kbd = document.createElement("kbd");
      kbd.textContent = option.key ? `[${option.key}]` : "";
      button.append(kbd);
      button.addEventListener("click", () => choose(name, option.value));
      return button;
    }));
  }
  progress();
}

function choose(name, value) {
  answers[name] = value;
  const index = questions().indexOf(name);
  if (index === active && active < questions().length - 1) active += 1;
  render();
}

function complete() {
  return questions().every((name) => answers[name] !== undefined);
}

async function show(index) {
  if (index >= setup.total) {
    item = null;
    $("rating").hidden = true;
    $("done").hidden = false;
    progress();
    return;
  }
  item = await api(`/api/item?rater=${encodeURIComponent(rater)}&index=${index}`);
  const previous = item.rating || {};
  answers = {};
  for (const name of questions()) if (previous[name] !== undefined && previous[name] !== null) answers[name] = previous[name];
  active = 0;
  $("rationale").textContent = item.rationale || "(no rationale)";
  $("answer-row").hidden = setup.hide_answer;
  if (!setup.hide_answer) $("answer").textContent = item.answer;
  const video = $("video");
  video.pause();
  video.hidden = !item.media;
  $("no-media").hidden = Boolean(item.media);
  if (item.media) video.src = item.media; else video.removeAttribute("src");
  $("rating").hidden = false;
  $("done").hidden = true;
  status(item.rating ? "Rated before: your answers are shown (Enter saves changes)." : "", Boolean(item.rating));
  render();
}

async function save() {
  if (!complete()) {
    status("Answer every question first.");
    return;
  }
  const body = { rater, item: item.id, emotion: answers.emotion, coherence: answers.coherence,
                 supports: setup.hide_answer ? null : answers.supports };
  try {
    setup = await api("/api/rate", body);
  } catch (error) {
    status(`Not saved: ${error.message}`);
    return;
  }
  await show(setup.position);
  status("Saved.", true);
}

function onKey(event) {
  if (!item || event.target.tagName === "INPUT" || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key;
  if (key === "Enter") { event.preventDefault(); save(); return; }
  if (key === "ArrowLeft" && item.index > 0) { event.preventDefault(); show(item.index - 1); return; }
  if (key === "ArrowRight" && item.index + 1 < setup.total) { event.preventDefault(); show(item.index + 1); return; }
  if (key === " ") {
    event.preventDefault();
    const video = $("video");
    if (!video.hidden) { if (video.paused) video.play(); else video.pause(); }
    return;
  }
  if ((key === "Tab" && !event.shiftKey) || key === "ArrowDown") {
    event.preventDefault(); active = Math.min(active + 1, questions().length - 1); render(); return;
  }
  if ((key === "Tab" && event.shiftKey) || key === "ArrowUp") {
    event.preventDefault(); active = Math.max(active - 1, 0); render(); return;
  }
  const name = questions()[active];
  const option = options(name).find((o) => o.key === key.toLowerCase());
  if (option) { event.preventDefault(); choose(name, option.value); }
}

async function start(id) {
  rater = id;
  localStorage.setItem("ervlight-rater", id);
  const url = new URL(window.location);
  url.searchParams.set("rater", id);
  history.replaceState(null, "", url);
  $("login").hidden = true;
  $("rater-label").textContent = `rater ${id}`;
  setup = await api(`/api/state?rater=${encodeURIComponent(id)}`);
  await show(setup.position);
}

window.addEventListener("DOMContentLoaded", () => {
  document.addEventListener("keydown", onKey);
  const given = new URLSearchParams(window.location.search).get("rater") || localStorage.getItem("ervlight-rater");
  $("login").addEventListener("submit", (event) => { event.preventDefault(); start($("rater-input").value.trim()); });
  if (given) start(given); else $("login").hidden = false;
});
