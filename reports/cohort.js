/* Leaderboard sorting and filtering for index.html. No framework, no fetches.
   State lives in the address's fragment (#sort=overall&dir=desc&q=text) so a view can be shared. */
(function () {
  "use strict";
  var table = document.getElementById("leaderboard");
  if (!table) { return; }
  var body = table.tBodies[0];
  var headers = Array.prototype.slice.call(table.querySelectorAll("th[data-key]"));
  var filter = document.getElementById("filter");
  var counter = document.getElementById("filter-count");
  var state = { key: table.getAttribute("data-sort") || "", dir: table.getAttribute("data-dir") || "desc", q: "" };

  function rows() { return Array.prototype.slice.call(body.rows); }

  function columnOf(key) {
    for (var i = 0; i < headers.length; i++) {
      if (headers[i].getAttribute("data-key") === key) { return headers[i]; }
    }
    return null;
  }

  function valueOf(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent.trim();
    if (!numeric) { return raw.toLowerCase(); }
    var number = parseFloat(raw);
    return isNaN(number) ? null : number;
  }

  function compare(a, b, numeric, dir) {
    if (a === b) { return 0; }
    if (a === null) { return 1; }   /* missing values sort last either way */
    if (b === null) { return -1; }
    var order = numeric ? a - b : a.localeCompare(b);
    return dir === "asc" ? order : -order;
  }

  function sortBy(key, dir) {
    var header = columnOf(key);
    if (!header) { return; }
    var index = header.cellIndex;
    var numeric = header.getAttribute("data-type") === "number";
    var list = rows().map(function (row, position) {
      return { row: row, value: valueOf(row, index, numeric), position: position };
    });
    list.sort(function (a, b) { return compare(a.value, b.value, numeric, dir) || a.position - b.position; });
    list.forEach(function (item) { body.appendChild(item.row); });
    headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", dir === "asc" ? "ascending" : "descending");
    state.key = key;
    state.dir = dir;
    renumber();
  }

  function renumber() {
    var rank = 0;
    rows().forEach(function (row) {
      var cell = row.querySelector(".rank");
      if (cell && !row.classList.contains("hidden-row")) { rank += 1; cell.textContent = String(rank); }
    });
  }

  function applyFilter(text) {
    var needle = text.trim().toLowerCase();
    var shown = 0;
    rows().forEach(function (row) {
      var match = !needle || row.textContent.toLowerCase().indexOf(needle) !== -1;
      row.classList.toggle("hidden-row", !match);
      if (match) { shown += 1; }
    });
    state.q = text;
    if (counter) { counter.textContent = shown + " of " + body.rows.length + " shown"; }
    renumber();
  }

  function saveState() {
    var parts = ["sort=" + encodeURIComponent(state.key), "dir=" + state.dir];
    if (state.q) { parts.push("q=" + encodeURIComponent(state.q)); }
    if (window.history && window.history.replaceState) {
      try { window.history.replaceState(null, "", "#" + parts.join("&")); } catch (e) { /* file:// may refuse */ }
    }
  }

  function readState() {
    var wanted = {};
    window.location.hash.replace(/^#/, "").split("&").forEach(function (pair) {
      var at = pair.indexOf("=");
      if (at > 0) { wanted[pair.slice(0, at)] = decodeURIComponent(pair.slice(at + 1)); }
    });
    return wanted;
  }

  headers.forEach(function (header) {
    var button = header.querySelector("button");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var key = header.getAttribute("data-key");
      var first = header.getAttribute("data-type") === "number" ? "desc" : "asc";
      var dir = state.key === key ? (state.dir === "asc" ? "desc" : "asc") : first;
      sortBy(key, dir);
      saveState();
    });
  });

  if (filter) {
    filter.addEventListener("input", function () { applyFilter(filter.value); saveState(); });
  }

  var wanted = readState();
  if (wanted.q && filter) { filter.value = wanted.q; }
  sortBy(wanted.sort || state.key, wanted.dir === "asc" ? "asc" : (wanted.dir === "desc" ? "desc" : state.dir));
  applyFilter(filter ? filter.value : "");
  table.setAttribute("data-ready", "true");
})();
