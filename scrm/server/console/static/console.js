// scrm console: refresh the inbox list and the alerts every data-poll seconds without a
// reload. Everything works without this file; it only saves the agent pressing reload.
(function () {
  "use strict";
  var SECONDS = 30;
  var prefix = "/app";

  function fetchPart(url) {
    return fetch(url.toString(), { credentials: "same-origin" }).then(function (r) {
      if (r.redirected) { window.location.reload(); return null; }
      return r.ok ? r : null;
    });
  }

  // The inbox list, in place.
  var box = document.getElementById("worklist");
  function refresh() {
    if (!box || document.hidden) { return Promise.resolve(); }
    var url = new URL(window.location.href);
    url.searchParams.set("partial", "1");
    return fetchPart(url).then(function (r) {
      if (r && r.headers.get("X-Console-Fragment") === "worklist") {
        return r.text().then(function (html) { box.innerHTML = html; });
      }
    }).catch(function () { /* offline for a moment: try again next round */ });
  }

  // The count of alerts nobody acknowledged (every page), and the list on the alerts page.
  var badge = document.getElementById("alert-count");
  var list = document.getElementById("alerts");
  var seen = null;
  function alerts() {
    if (!badge || document.hidden) { return Promise.resolve(); }
    return fetchPart(new URL(prefix + "/alerts?partial=1", window.location.href)).then(function (r) {
      if (!r) { return; }
      var n = parseInt(r.headers.get("X-Console-Alerts"), 10) || 0;
      badge.textContent = String(n);
      badge.hidden = n === 0;
      badge.classList.toggle("hot", seen !== null && n > seen || n > 0);
      seen = n;
      if (list && r.headers.get("X-Console-Fragment") === "alerts") {
        return r.text().then(function (html) { list.innerHTML = html; });
      }
    }).catch(function () { /* next round */ });
  }

  if (box) {
    SECONDS = parseInt(box.getAttribute("data-poll"), 10) || SECONDS;
    window.setInterval(refresh, SECONDS * 1000);
  }
  if (badge) {
    alerts();
    window.setInterval(alerts, SECONDS * 1000);
  }
  // Keyboard: j/k next/previous case in the inbox, o or Enter open it, r reply, a assign,
  // ? show or hide the list of keys.  Keys typed into a form field are left alone.
  var help = document.getElementById("shortcuts");
  var selected = null;  // the selected case id, kept across refreshes of the list
  function rows() { return box ? Array.prototype.slice.call(box.querySelectorAll("tr[data-case]")) : []; }
  function mark() {
    rows().forEach(function (row) {
      var on = row.getAttribute("data-case") === selected;
      row.classList.toggle("selected", on);
      if (on) { row.setAttribute("aria-selected", "true"); } else { row.removeAttribute("aria-selected"); }
      if (on) { row.scrollIntoView({ block: "nearest" }); }
    });
  }
  function step(by) {
    var all = rows();
    if (!all.length) { return; }
    var ids = all.map(function (r) { return r.getAttribute("data-case"); });
    var at = ids.indexOf(selected);
    at = at < 0 ? (by > 0 ? 0 : ids.length - 1) : Math.min(ids.length - 1, Math.max(0, at + by));
    selected = ids[at];
    mark();
  }
  function open(anchor) {
    if (selected) { window.location.href = prefix + "/cases/" + selected + (anchor || ""); }
  }
  function focus(id) {
    var field = document.getElementById(id);
    if (field) { field.scrollIntoView({ block: "center" }); field.focus(); return true; }
    return false;
  }
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey || (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)))) { return; }
    var key = e.key;
    if (key === "?" && help) { help.open = !help.open; e.preventDefault(); return; }
    if (key === "Escape" && help) { help.open = false; return; }
    if (box && (key === "j" || key === "k")) { step(key === "j" ? 1 : -1); e.preventDefault(); return; }
    if (box && (key === "o" || key === "Enter") && selected) { open(""); e.preventDefault(); return; }
    if (key === "r") {
      if (!focus("reply-body")) { open("#reply"); }
      e.preventDefault();
    } else if (key === "a") {
      if (!focus("assign-agent")) { open("#assign"); }
      e.preventDefault();
    }
  });
  if (box) {
    new MutationObserver(mark).observe(box, { childList: true });
  }
  // The case page opened by r or a: go straight to the field.
  if (window.location.hash === "#reply") { focus("reply-body"); }
  if (window.location.hash === "#assign") { focus("assign-agent"); }

  // One round now (the browser tests use them).
  window.scrmConsole = { refresh: refresh, alerts: alerts };
}());
