// scrm console: refresh the inbox list every data-poll seconds without a reload.
// Everything works without this file; it only saves the agent pressing reload.
(function () {
  "use strict";
  var box = document.getElementById("worklist");
  if (!box) { return; }
  var seconds = parseInt(box.getAttribute("data-poll"), 10) || 30;
  function refresh() {
    if (document.hidden) { return Promise.resolve(); }
    var url = new URL(window.location.href);
    url.searchParams.set("partial", "1");
    return fetch(url.toString(), { credentials: "same-origin" }).then(function (r) {
      if (r.ok && r.headers.get("X-Console-Fragment") === "worklist") {
        return r.text().then(function (html) { box.innerHTML = html; });
      }
      if (r.redirected) { window.location.reload(); }
    }).catch(function () { /* offline for a moment: try again next round */ });
  }
  window.setInterval(refresh, seconds * 1000);
  window.scrmConsole = { refresh: refresh };  // one round now (the browser tests use it)
}());
