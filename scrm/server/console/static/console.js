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
  // One round now (the browser tests use them).
  window.scrmConsole = { refresh: refresh, alerts: alerts };
}());
