// Sluice dashboard script: local times, fetch-based actions and forms, JSON validation, and live
// refresh over server-sent events. Plain browser APIs only; no build step, no dependencies.
"use strict";

(function () {
  const csrf = () => document.body.dataset.csrf || "";

  // ---- Timestamps: shown in local time, the absolute UTC time on hover. ----
  function localizeTimes(root) {
    for (const el of root.querySelectorAll("time[datetime]")) {
      if (el.dataset.localized) continue;
      const d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) continue;
      el.textContent = d.toLocaleString(undefined, {
        year: "numeric", month: "short", day: "numeric",
        hour: "2-digit", minute: "2-digit", second: "2-digit",
      });
      el.title = d.toISOString().replace("T", " ").replace("Z", " UTC");
      el.dataset.localized = "1";
    }
  }

  // ---- Flash messages. ----
  let flashTimer = null;
  function flash(message, kind) {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = message;
    box.className = "flash " + (kind || "ok");
    box.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 12000 : 5000);
  }

  // ---- Talking to the server. ----
  async function call(url, method, body) {
    const headers = { "X-CSRF-Token": csrf(), "Accept": "application/json" };
    const init = { method: method || "POST", headers, credentials: "same-origin" };
    if (body !== undefined && body !== null) {
      headers["Content-Type"] = "application/json";
      init.body = typeof body === "string" ? body : JSON.stringify(body);
    }
    const resp = await fetch(url, init);
    const text = await resp.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
    return { ok: resp.ok, status: resp.status, json, text };
  }

  function lookup(obj, path) {
    return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
  }

  function after(then, result) {
    if (!then || then === "none") return;
    if (then === "reload") { refresh(true); return; }
    if (then.startsWith("goto:")) {
      const target = then.slice(5).replace(/\{([^}]+)\}/g, (_, p) => {
        const v = lookup(result.json, p);
        return v == null ? "" : encodeURIComponent(String(v));
      });
      window.location.assign(target);
    }
  }

  function errorText(result) {
    if (result.json && result.json.error) return result.json.error;
    if (result.status === 401) return "Your session has expired; reload the page and log in.";
    return "The server answered " + result.status + ".";
  }

  async function perform(el, url, method, body) {
    if (el.dataset.confirm && !window.confirm(el.dataset.confirm)) return;
    el.setAttribute("aria-busy", "true");
    if ("disabled" in el) el.disabled = true;
    try {
      const result = await call(url, method, body);
      if (!result.ok) { flash(errorText(result), "error"); return; }
      flash(el.dataset.done || "Done.", "ok");
      after(el.dataset.then, result);
    } catch (e) {
      flash("Could not reach Sluice: " + e.message, "error");
    } finally {
      el.removeAttribute("aria-busy");
      if ("disabled" in el) el.disabled = false;
    }
  }

  // A form's fields as JSON: `data-json` fields are parsed, `name[]` fields become arrays, and
  // empty optional fields are left out.
  function formJson(form) {
    const out = {};
    for (const el of form.elements) {
      if (!el.name || el.disabled || el.type === "submit" || el.type === "button") continue;
      let value = el.value;
      if (el.dataset.json) {
        value = JSON.parse(value);
      } else if (value === "" && !el.required) {
        continue;
      }
      if (el.name.endsWith("[]")) {
        const key = el.name.slice(0, -2);
        (out[key] = out[key] || []).push(value);
      } else {
        out[el.name] = value;
      }
    }
    return out;
  }

  // ---- JSON fields: checked as they are typed and before sending. ----
  function checkJson(field) {
    const form = field.form;
    const msg = form && form.querySelector(".json-error");
    let error = "";
    try {
      const v = JSON.parse(field.value);
      if (field.dataset.json === "object" && (v === null || typeof v !== "object" || Array.isArray(v))) {
        error = "This must be a JSON object, such as {\"id\": 1}.";
      }
    } catch (e) {
      error = "Not valid JSON: " + e.message;
    }
    field.setAttribute("aria-invalid", error ? "true" : "false");
    if (msg) { msg.textContent = error; msg.hidden = !error; }
    if (form) {
      for (const b of form.querySelectorAll("button[type=submit]")) b.disabled = !!error;
    }
    return !error;
  }

  document.addEventListener("input", (ev) => {
    const t = ev.target;
    if (t.matches && t.matches("textarea[data-json]")) checkJson(t);
  });

  document.addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-action]");
    if (button) {
      ev.preventDefault();
      const body = button.dataset.body ? button.dataset.body : null;
      perform(button, button.dataset.action, button.dataset.method || "POST", body);
      return;
    }
    const tester = ev.target.closest("button[data-test-transform]");
    if (tester) {
      ev.preventDefault();
      testTransform(tester);
      return;
    }
    const row = ev.target.closest("tr[data-href]");
    if (row && !ev.target.closest("a, button, input, select, textarea")) {
      window.location.assign(row.dataset.href);
    }
  });

  document.addEventListener("submit", (ev) => {
    const form = ev.target;
    if (form.hasAttribute("data-time-range")) { fillRange(form); return; }
    if (!form.dataset.action) return;
    ev.preventDefault();
    for (const f of form.querySelectorAll("textarea[data-json]")) {
      if (!checkJson(f)) { f.focus(); return; }
    }
    let body;
    try { body = formJson(form); } catch (e) { flash("Not valid JSON: " + e.message, "error"); return; }
    perform(form, form.dataset.action, form.dataset.method || "POST", body);
  });

  async function testTransform(button) {
    const form = button.closest("form");
    const out = form.querySelector(".test-result");
    const select = form.querySelector("#test-delivery");
    const body = { transform: form.elements.transform.value, delivery_id: select ? select.value : "" };
    button.disabled = true;
    try {
      const result = await call(button.dataset.testTransform, "POST", body);
      out.hidden = false;
      out.classList.toggle("error", !result.ok);
      out.textContent = result.ok
        ? JSON.stringify(result.json, null, 2)
        : "Error: " + errorText(result);
    } catch (e) {
      flash("Could not reach Sluice: " + e.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  // ---- Time range: local date inputs fill the epoch-millisecond fields the server reads. ----
  function pad(n) { return String(n).padStart(2, "0"); }
  function toLocalInput(ms) {
    const d = new Date(ms);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
      "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  function initRange(root) {
    for (const input of root.querySelectorAll("input[data-ms-for]")) {
      const hidden = input.form && input.form.elements[input.dataset.msFor];
      if (hidden && hidden.value) input.value = toLocalInput(Number(hidden.value));
    }
  }
  function fillRange(form) {
    for (const input of form.querySelectorAll("input[data-ms-for]")) {
      const hidden = form.elements[input.dataset.msFor];
      if (!hidden) continue;
      const ms = input.value ? new Date(input.value).getTime() : NaN;
      hidden.value = isNaN(ms) ? "" : String(ms);
      hidden.disabled = hidden.value === "";
    }
    for (const el of form.elements) {
      if (el.name && el.value === "" && el.tagName !== "BUTTON") el.disabled = true;
    }
  }

  // ---- Live refresh. ----
  let source = null;
  let refreshing = false;

  function interacting() {
    const a = document.activeElement;
    return a && a !== document.body && a.closest("main form");
  }

  async function refresh(force) {
    if (refreshing) return;
    if (!force && (document.hidden || interacting())) return;
    refreshing = true;
    try {
      const resp = await fetch(window.location.href, { credentials: "same-origin" });
      if (!resp.ok) return;
      const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
      const fresh = doc.getElementById("main");
      const main = document.getElementById("main");
      if (!fresh || !main) return;
      const open = new Set([...main.querySelectorAll("details[open][id]")].map((d) => d.id));
      const closed = new Set([...main.querySelectorAll("details[id]:not([open])")].map((d) => d.id));
      main.innerHTML = fresh.innerHTML;
      for (const d of main.querySelectorAll("details[id]")) {
        if (open.has(d.id)) d.open = true;
        else if (closed.has(d.id)) d.open = false;
      }
      init(main);
      // The stream keeps its own fingerprint; reconnect only when the page watches something else.
      const live = doc.body.dataset.live || "";
      const was = document.body.dataset.live || "";
      if (stripSince(live) !== stripSince(was)) {
        if (live) document.body.dataset.live = live; else delete document.body.dataset.live;
        connect();
      }
    } catch (_) {
      // The next tick tries again.
    } finally {
      refreshing = false;
    }
  }

  function stripSince(url) {
    return url.replace(/[?&]since=[0-9a-f]*/, "");
  }

  function connect() {
    if (source) { source.close(); source = null; }
    const url = document.body.dataset.live;
    if (!url || !window.EventSource) return;
    source = new EventSource(url);
    source.addEventListener("tick", () => refresh(false));
  }

  function init(root) {
    localizeTimes(root);
    initRange(root);
    for (const f of root.querySelectorAll("textarea[data-json]")) checkJson(f);
    // Open the attempt a link points at (#h-<id>), so a shared link shows its step.
    if (window.location.hash.startsWith("#h-")) {
      const d = document.getElementById(window.location.hash.slice(1));
      if (d && d.tagName === "DETAILS") d.open = true;
    }
  }

  window.addEventListener("pagehide", () => { if (source) source.close(); });

  document.addEventListener("DOMContentLoaded", () => {
    const box = document.getElementById("flash");
    if (box) box.hidden = true;
    init(document);
    connect();
  });
})();
