// Progressive enhancement: sort the leaderboard in place when a column
// heading is clicked (the links still sort on the server without scripts).
(function () {
  "use strict";
  const table = document.getElementById("board");
  if (!table) return;

  function cellValue(row, index) {
    const cell = row.children[index];
    return cell ? cell.getAttribute("data-value") || "" : "";
  }

  function compare(a, b, numeric, descending) {
    if (a === "" || b === "") return a === b ? 0 : a === "" ? 1 : -1; // empty always last
    const order = numeric ? Number(a) - Number(b) : a.localeCompare(b);
    return descending ? -order : order;
  }

  function sortBy(header) {
    const index = Array.prototype.indexOf.call(header.parentNode.children, header);
    const key = header.getAttribute("data-key") || "rank";
    const numeric = key !== "name";
    const current = header.getAttribute("aria-sort");
    // rank: 1 first; names A first; scores best first; a second click reverses.
    const firstDescending = key !== "name" && key !== "rank";
    const descending = current ? current === "ascending" : firstDescending;
    // The ranked entries and those listed apart sort each within their own body.
    Array.prototype.forEach.call(table.tBodies, function (body) {
      const rows = Array.from(body.querySelectorAll("tr.entry"));
      rows.sort(function (r1, r2) { return compare(cellValue(r1, index), cellValue(r2, index), numeric, descending); });
      rows.forEach(function (row) { body.appendChild(row); });
    });
    table.querySelectorAll("thead th").forEach(function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
    table.setAttribute("data-sort", key);
    table.setAttribute("data-dir", descending ? "desc" : "asc");
  }

  table.querySelectorAll("thead th").forEach(function (header) {
    const link = header.querySelector("a");
    if (!link) return;
    link.addEventListener("click", function (event) {
      event.preventDefault();
      sortBy(header);
    });
  });
  table.setAttribute("data-enhanced", "1");
})();
