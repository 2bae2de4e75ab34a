/* Loa panel, device pages: live rows over server-sent events, and the map (vendored Leaflet).
   The pages work without this file; it only keeps them current and draws the map. */
(function () {
  "use strict";

  var COLORS = { online: "#1e6b35", offline: "#b3261e", unknown: "#5b6470", revoked: "#5b6470", alert: "#8a5a00" };
  var STALE_LABEL = "Mất kết nối"; // the page's own word (data-stale-label) wins: it is in the reader's language
  var skew = 0; // server clock minus browser clock, ms
  var markers = {};

  function text(el, value) { if (el) el.textContent = value; }

  function cell(root, name) { return root.querySelector('[data-cell="' + name + '"]'); }

  function badge(state, label) {
    var span = document.createElement("span");
    span.className = "badge " + state;
    span.textContent = label;
    return span;
  }

  function setState(root, state, label) {
    var target = cell(root, "state");
    if (!target) return;
    target.replaceChildren(badge(state, label));
  }

  function renderAlerts(target, alerts) {
    if (!alerts.length) {
      var none = document.createElement("span");
      none.className = "muted";
      none.textContent = "—";
      target.replaceChildren(none);
      return;
    }
    var list = document.createElement("ul");
    list.className = "alerts";
    alerts.forEach(function (a) {
      var item = document.createElement("li");
      item.className = "alert-item";
      item.dataset.code = a.code;
      item.textContent = a.label;
      if (a.detail) {
        var detail = document.createElement("span");
        detail.className = "small";
        detail.textContent = " (" + a.detail + ")";
        item.appendChild(detail);
      }
      list.appendChild(item);
    });
    target.replaceChildren(list);
  }

  function updateRow(d) {
    var row = document.getElementById("dev-" + d.id);
    if (row) {
      row.dataset.reported = d.reported_state;
      row.dataset.seenMs = d.last_seen_ms === null ? "" : String(d.last_seen_ms);
      setState(row, d.state, d.state_label);
      text(cell(row, "seen"), d.last_seen);
      var alerts = cell(row, "alerts");
      if (alerts) renderAlerts(alerts, d.alerts);
    }
    var marker = markers[d.id];
    if (marker) {
      marker.setStyle(style(d.state, d.alerts.length));
      marker.bindPopup(popup({ id: d.id, name: marker.options.title, state_label: d.state_label }));
    }
  }

  function updateCommand(c) {
    var row = document.getElementById("cmd-" + c.id);
    if (!row) return;
    var state = cell(row, "cmd-state");
    if (state) state.replaceChildren(badge("cmd-" + c.state, c.state_label));
    text(cell(row, "cmd-reason"), c.reason);
    text(cell(row, "cmd-done"), c.done_at);
  }

  // A box that says "online" but has sent nothing for a while is offline, even before its will arrives.
  function markStale(live) {
    var limit = Number(live.dataset.staleMs);
    var now = Date.now() + skew;
    live.querySelectorAll('[data-reported="online"]').forEach(function (row) {
      var seen = Number(row.dataset.seenMs);
      if (seen && now - seen > limit) setState(row, "offline", live.dataset.staleLabel || STALE_LABEL);
    });
  }

  function startLive() {
    var live = document.querySelector("[data-live]");
    if (!live) return;
    skew = Number(live.dataset.nowMs) - Date.now();
    window.setInterval(function () { markStale(live); }, 15000);
    if (!window.EventSource) return;
    var source = new EventSource(live.dataset.live);
    source.addEventListener("devices", function (event) {
      var data = JSON.parse(event.data);
      skew = data.now_ms - Date.now();
      data.devices.forEach(updateRow);
      (data.commands || []).forEach(updateCommand);
    });
  }

  function style(state, alerts) {
    var color = state === "online" && alerts ? COLORS.alert : COLORS[state] || COLORS.unknown;
    return { radius: 7, color: "#fff", weight: 2, fillColor: color, fillOpacity: 0.95 };
  }

  function popup(m) {
    var box = document.createElement("div");
    var link = document.createElement("a");
    link.href = "/devices/" + encodeURIComponent(m.id);
    link.textContent = m.name;
    var state = document.createElement("div");
    state.textContent = m.state_label;
    box.append(link, state);
    return box;
  }

  function startMap() {
    var section = document.querySelector("[data-map]");
    if (!section || !window.L) return;
    var empty = section.querySelector("[data-map-empty]");

    function draw(list) {
      section.hidden = false;
      if (!list.length) {
        section.querySelector(".map").hidden = true;
        if (empty) empty.hidden = false;
        return;
      }
      var map = L.map(section.querySelector(".map"), { preferCanvas: true });
      if (section.dataset.tiles) {
        L.tileLayer(section.dataset.tiles, { attribution: section.dataset.attribution, maxZoom: 19 }).addTo(map);
      }
      var points = [];
      list.forEach(function (m) {
        var marker = L.circleMarker([m.lat, m.lon], Object.assign({ title: m.name }, style(m.state, m.alerts)));
        marker.bindPopup(popup(m)).addTo(map);
        markers[m.id] = marker;
        points.push([m.lat, m.lon]);
      });
      if (points.length === 1) map.setView(points[0], 15);
      else map.fitBounds(points, { padding: [20, 20] });
    }

    if (section.dataset.markers) {
      draw(JSON.parse(section.dataset.markers));
    } else if (section.dataset.markersUrl) {
      fetch(section.dataset.markersUrl, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(draw)
        .catch(function () { /* the list works without the map */ });
    }
  }

  startMap();
  startLive();
})();
