// Connection indicator for the live websocket: "live" while open, "reconnecting" after a
// drop (the htmx ws extension reconnects with backoff and the server re-sends current state).
(function () {
  function setStatus(text, cls) {
    var el = document.getElementById("ws-status");
    if (!el) return;
    el.textContent = text;
    el.className = "ws-status " + cls;
  }
  document.addEventListener("htmx:wsOpen", function () { setStatus("live", "ws-live"); });
  document.addEventListener("htmx:wsClose", function () { setStatus("reconnecting", "ws-reconnecting"); });
  document.addEventListener("htmx:wsError", function () { setStatus("reconnecting", "ws-reconnecting"); });
})();
