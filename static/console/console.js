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

// Node pages: a pushed event names its topic with a `live-tick-<topic>` element; regions
// marked data-live-refresh="<topic> ..." then re-fetch themselves (their own URL, so the
// filters in it are kept). Whenever the socket opens every such region re-fetches, so the
// page catches up on what it missed before subscribing or while disconnected. Upgrade
// countdowns are computed from the pushed height.
(function () {
  var TICK = /id="live-tick-([A-Za-z0-9._-]+)"/g;
  function refresh(topic) {
    document.querySelectorAll("[data-live-refresh]").forEach(function (el) {
      var topics = el.getAttribute("data-live-refresh").split(/\s+/);
      if (topic === null || topics.indexOf(topic) >= 0) {
        // The newest refresh wins: a fetch still in flight (the one made when the socket
        // opened) holds older state, and htmx would queue this one behind it and then issue
        // it from the element that fetch's outerHTML swap has already replaced.
        window.htmx.trigger(el, "htmx:abort");
        window.htmx.trigger(el, "kc:refresh");
      }
    });
  }
  function countdowns() {
    document.querySelectorAll(".countdown[data-target-height]").forEach(function (el) {
      var left = parseInt(el.dataset.targetHeight, 10) - parseInt(el.dataset.height || "0", 10);
      var interval = parseFloat(el.dataset.interval || "");
      if (isNaN(left)) return;
      if (left <= 0) { el.textContent = "(due now)"; return; }
      el.textContent = "in " + left + " block" + (left === 1 ? "" : "s") +
        (isNaN(interval) ? "" : " (~" + Math.round(left * interval) + " s)");
    });
  }
  document.addEventListener("htmx:wsAfterMessage", function (e) {
    var text = e.detail && e.detail.message;
    if (typeof text === "string") {
      var seen = {}, m;
      TICK.lastIndex = 0;
      while ((m = TICK.exec(text)) !== null) {
        if (!seen[m[1]]) { seen[m[1]] = true; refresh(m[1]); }
      }
    }
    countdowns();
  });
  // Every open, the first too: an event published between the page's render and its
  // subscription (a job step finishing meanwhile) would otherwise never reach it.
  // Pages whose regions only ever change by pushed fragments (governance) mark an element
  // data-live-resync that fetches the current fragment, for the same reason.
  document.addEventListener("htmx:wsOpen", function () {
    refresh(null);
    document.querySelectorAll("[data-live-resync]").forEach(function (el) {
      window.htmx.trigger(el, "htmx:abort");
      window.htmx.trigger(el, "kc:refresh");
    });
  });
  document.addEventListener("htmx:afterSettle", countdowns);
  document.addEventListener("DOMContentLoaded", countdowns);
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-toggle-details]");
    if (!button) return;
    var all = document.querySelectorAll(button.dataset.toggleDetails + " details");
    var open = Array.prototype.some.call(all, function (d) { return !d.open; });
    all.forEach(function (d) { d.open = open; });
  });
})();

// A vote being filled in belongs to the user: the vote card's refresh (after each block, and
// when the socket opens) must not replace the card under them and clear their choice.
(function () {
  document.addEventListener("change", function (e) {
    var card = e.target.closest && e.target.closest("#vote-card");
    if (card) card.setAttribute("data-editing", "");
  });
  document.addEventListener("htmx:beforeSwap", function (e) {
    var elt = e.detail.requestConfig && e.detail.requestConfig.elt;
    var card = document.getElementById("vote-card");
    if (card && card.hasAttribute("data-editing") && elt && elt.closest && elt.closest("#vote-card-refresh")) {
      e.detail.shouldSwap = false;
    }
  });
})();
