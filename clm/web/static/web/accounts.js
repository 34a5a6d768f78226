// Keep "save this view" and the export pointing at the filters on screen after htmx swaps the table.
document.body.addEventListener("htmx:pushedIntoHistory", function () {
  var exportLink = document.getElementById("export-link");
  exportLink.href = exportLink.dataset.base + location.search;
  document.getElementById("save-view-query").value = location.search.replace(/^\?/, "");
  document.getElementById("sort-field").value = new URLSearchParams(location.search).get("sort") || "";
});
