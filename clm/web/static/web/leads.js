// The lead funnel's chart: leads reaching each stage (ECharts), with a PNG export; the table below is its table view.
(function () {
  function draw() {
    var el = document.getElementById("funnel-chart"), data = document.getElementById("funnel-data");
    if (!el || !data || !window.echarts) return;
    var rows = JSON.parse(data.textContent);
    var labels = JSON.parse(el.dataset.labels || "{}");
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      color: ["#0072b2"],
      tooltip: { trigger: "axis" },
      toolbox: { feature: { saveAsImage: { title: "PNG" } } },
      grid: { left: 10, right: 50, top: 20, bottom: 30, containLabel: true },
      xAxis: { type: "value", name: labels.reached, minInterval: 1 },
      yAxis: { type: "category", inverse: true, data: rows.map(function (r) { return r.label; }) },
      series: [{ name: labels.reached, type: "bar", label: { show: true, position: "right" },
                 data: rows.map(function (r) { return r.reached; }) }]
    });
    el.dataset.points = String(rows.length);
    window.addEventListener("resize", function () { chart.resize(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();

// The lead list: keep "save this view" pointing at the filters on screen after htmx swaps the table.
document.body.addEventListener("htmx:pushedIntoHistory", function () {
  var query = document.getElementById("save-view-query");
  if (query) query.value = location.search.replace(/^\?/, "");
});
