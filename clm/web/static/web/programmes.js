// The win-back page's chart: success rate and cases evaluated per root cause (ECharts), with a PNG export.
(function () {
  function draw() {
    var el = document.getElementById("cause-chart"), data = document.getElementById("cause-data");
    if (!el || !data || !window.echarts) return;
    var rows = JSON.parse(data.textContent), labels = JSON.parse(el.dataset.labels || "{}");
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      color: ["#0072b2", "#e69f00"],  // Okabe–Ito: safe for colour-blind readers
      tooltip: { trigger: "axis" },
      toolbox: { feature: { saveAsImage: { title: "PNG" } } },
      legend: { data: [labels.rate, labels.cases] },
      grid: { left: 44, right: 44, top: 44, bottom: 30 },
      xAxis: { type: "category", data: rows.map(function (r) { return r.label; }) },
      yAxis: [{ type: "value", name: labels.rate, max: 100 }, { type: "value", name: labels.cases, minInterval: 1 }],
      series: [
        { name: labels.rate, type: "bar", data: rows.map(function (r) { return r.rate; }) },
        { name: labels.cases, type: "bar", yAxisIndex: 1, data: rows.map(function (r) { return r.cases; }) }
      ]
    });
    el.dataset.points = String(rows.length);
    window.addEventListener("resize", function () { chart.resize(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
