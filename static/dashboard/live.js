/*
 * The live pages' only hand-written script, on top of htmx and its ws extension.
 *
 * - #live-status says in words whether pushes are arriving (Connecting / Live / Offline /
 *   Paused: the server answers but cannot carry live updates, its Redis being down).
 * - After a reconnect every element listening for "live:resync" re-fetches itself, so
 *   nothing missed while offline stays on screen.
 * - The "live" extension filters pushes before htmx swaps them: a fragment older than
 *   what the page shows (data-version) or for an element the page does not show is
 *   dropped, and changed figures are marked so CSS can highlight them.
 * - The stock table tells the server which rows it shows ("watch"), so only those are pushed.
 * - <time data-relative> and <time data-countdown> are kept current.
 */
(function () {
  "use strict";

  var RETRIED_BY_EXTENSION = [1006, 1011, 1012, 1013];
  // The extension's default doubles up to 64 s; a manager waiting for the hub to come back
  // should not wait more than a few seconds. Half fixed, half random, so pages spread out.
  htmx.config.wsReconnectDelay = function (retries) {
    var ceiling = Math.min(5000, 500 * Math.pow(2, retries));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  };
  var socket = null; // the ws extension's public interface of the open socket
  var connectedBefore = new WeakSet(); // socket elements that have been open once
  var lastUpdate = null; // Date the figures on screen were last known to be current
  var state = "connecting";
  var CLOSE_PAUSED = 4503; // stock/consumers.py: the channel layer cannot be reached
  var confirming = null; // timer: a socket opened while paused must stay open to count

  function setState(next, text) {
    state = next;
    var status = document.getElementById("live-status");
    if (!status) return;
    status.dataset.state = next;
    status.querySelector(".live-status__text").textContent = text;
    renderFreshness();
  }

  function ago(date) {
    var seconds = Math.max(0, Math.round((Date.now() - date.getTime()) / 1000));
    if (seconds < 5) return "just now";
    if (seconds < 60) return seconds + " s ago";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min ago";
    var hours = Math.floor(minutes / 60);
    if (hours < 48) return hours + " h ago";
    return Math.floor(hours / 24) + " days ago";
  }

  function renderFreshness() {
    var freshness = document.getElementById("live-freshness");
    if (!freshness) return;
    if (!lastUpdate) {
      freshness.textContent = "";
    } else if (state === "live") {
      freshness.textContent = "up to date · last push " + ago(lastUpdate);
    } else {
      freshness.textContent = "figures as of " + ago(lastUpdate);
    }
    freshness.dataset.updatedAt = lastUpdate ? lastUpdate.toISOString() : "";
  }

  function renderTimes() {
    document.querySelectorAll("time[data-relative]").forEach(function (el) {
      el.textContent = ago(new Date(el.getAttribute("datetime")));
    });
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var left = Math.round((new Date(el.getAttribute("datetime")).getTime() - Date.now()) / 1000);
      if (left <= 0) {
        el.textContent = "expired";
        el.classList.add("is-expired");
        return;
      }
      var minutes = Math.floor(left / 60);
      var seconds = String(left % 60).padStart(2, "0");
      el.textContent = minutes + ":" + seconds + " left";
    });
    renderFreshness();
  }

  function watchedLevels() {
    var results = document.getElementById("stock-results");
    if (!results) return null;
    return Array.prototype.map.call(results.querySelectorAll("tr[data-level-id]"), function (row) {
      return Number(row.dataset.levelId);
    });
  }

  var lastWatch = null;

  function sendWatch(force) {
    var levels = watchedLevels();
    if (!socket || levels === null) return;
    var message = JSON.stringify({ type: "watch", levels: levels });
    if (message === lastWatch && !force) return;
    lastWatch = message;
    socket.send(message);
  }

  // Mark the cells whose text differs from what is on screen, and the entries (feed
  // lines, order rows) the screen does not have yet, for a short highlight.
  function markChanges(current, incoming) {
    incoming.querySelectorAll("li[id], tr[id]").forEach(function (entry) {
      if (!document.getElementById(entry.id)) entry.classList.add("is-new");
    });
    var changed = false;
    incoming.querySelectorAll("[data-field]").forEach(function (cell) {
      var before = current.querySelector('[data-field="' + cell.dataset.field + '"]');
      if (before && before.textContent.trim() !== cell.textContent.trim()) {
        cell.classList.add("is-changed");
        changed = true;
      }
    });
    if (changed) incoming.classList.add("is-updated");
    return changed;
  }

  htmx.defineExtension("live", {
    transformResponse: function (text, xhr) {
      var isPush = !xhr;
      if (!isPush && text.indexOf("hx-swap-oob") < 0) return text;
      var template = document.createElement("template");
      template.innerHTML = text;
      // Table rows come wrapped in <template> in HTTP answers (htmx unwraps them there).
      var candidates = [];
      Array.prototype.forEach.call(template.content.children, function (child) {
        if (child.tagName === "TEMPLATE") {
          Array.prototype.push.apply(candidates, child.content.children);
        } else {
          candidates.push(child);
        }
      });
      var kept = 0;
      candidates.forEach(function (incoming) {
        if (!incoming.hasAttribute("hx-swap-oob")) {
          kept += 1;
          return;
        }
        var current = incoming.id ? document.getElementById(incoming.id) : null;
        if (!current) {
          if (isPush) incoming.remove(); // not on this page (another page of the table, say)
          else kept += 1;
          return;
        }
        var versioned = current.dataset.version && incoming.dataset.version;
        var shown = Number(current.dataset.version);
        var got = Number(incoming.dataset.version);
        if (versioned && got < shown) {
          incoming.remove(); // older than what the page already shows
          return;
        }
        if (!markChanges(current, incoming) && versioned && got === shown) {
          incoming.remove(); // the same again (pushed and answered): keep the highlight
          return;
        }
        kept += 1;
      });
      if (isPush) {
        lastUpdate = new Date();
        renderFreshness();
      }
      return kept ? template.innerHTML : "";
    },
  });

  document.addEventListener("htmx:wsConnecting", function () {
    if (state !== "offline" && state !== "paused") setState("connecting", "Connecting…");
  });

  document.addEventListener("htmx:wsOpen", function (event) {
    socket = event.detail.socketWrapper;
    var isReconnect = connectedBefore.has(event.target);
    connectedBefore.add(event.target);
    function goLive() {
      confirming = null;
      lastUpdate = new Date();
      setState("live", "Live");
      sendWatch(true);
      if (isReconnect) {
        // A reconnect: pushes sent while we were away are lost, so re-read what is shown.
        htmx.trigger(document.body, "live:resync");
      }
    }
    // While paused the server accepts and at once closes with CLOSE_PAUSED: only a socket
    // still open a moment later means live updates are back.
    if (state === "paused") confirming = setTimeout(goLive, 1000);
    else goLive();
  });

  document.addEventListener("htmx:wsClose", function (event) {
    socket = null;
    var code = event.detail.event.code;
    var source = event.target;
    if (code === 4403) {
      setState("denied", "Offline: sign in again to get live figures");
      return;
    }
    if (confirming) {
      clearTimeout(confirming);
      confirming = null;
    }
    if (!document.body.contains(source)) return; // the page moved on; a new socket follows
    if (code === CLOSE_PAUSED) {
      setState("paused", "Live updates paused — they resume on their own");
    } else {
      setState("offline", "Offline — reconnecting…");
    }
    if (RETRIED_BY_EXTENSION.indexOf(code) < 0) {
      // A clean close (a restarting server says "going away") is not retried by the
      // extension; retry it here, with a little jitter so clients do not arrive at once.
      setTimeout(function () {
        if (document.body.contains(source)) event.detail.socketWrapper.reconnect();
      }, 1000 + Math.random() * 2000);
    }
  });

  // The table shows other rows after a search, a sort or a page change; and whatever
  // arrived carries times written by the server, which read best as the others do.
  document.addEventListener("htmx:afterSettle", function () {
    sendWatch(false);
    renderTimes();
  });
  document.addEventListener("htmx:wsAfterMessage", renderTimes);

  // A row that changed while its highlight still runs must animate again.
  document.addEventListener("animationend", function (event) {
    event.target.classList.remove("is-changed", "is-updated", "is-new");
  });

  setInterval(renderTimes, 1000);
  document.addEventListener("DOMContentLoaded", renderTimes);
})();
