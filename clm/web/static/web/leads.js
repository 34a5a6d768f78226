// Keep "save this view" pointing at the filters on screen after htmx swaps the lead table.
document.body.addEventListener("htmx:pushedIntoHistory", function () {
  document.getElementById("save-view-query").value = location.search.replace(/^\?/, "");
});
