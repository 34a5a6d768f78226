// The dashboard's chart: customers and ARR per lifecycle stage (ECharts), with a PNG export.
(function () {
  function draw() {
    var el = document.getElementById("stage-chart"), data = document.getElementById("stage-data");
    if (!el || !data || !window.echarts) return;
    var rows = JSON.parse(data.textContent);
    var labels = JSON.parse(el.dataset.labels || "{}");
    var chinese = (document.documentElement.lang || "").indexOf("zh") === 0;
    function compact(v) {  // axis amounts that fit: 1.2亿 / 3,000万 in Chinese, 120M / 30k in English
      if (chinese) return v >= 1e8 ? v / 1e8 + "亿" : v >= 1e4 ? v / 1e4 + "万" : String(v);
      return v >= 1e6 ? v / 1e6 + "M" : v >= 1e3 ? v / 1e3 + "k" : String(v);
    }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      color: ["#0072b2", "#e69f00"],  // Okabe–Ito: safe for colour-blind readers
      tooltip: { trigger: "axis" },
      toolbox: { feature: { saveAsImage: { title: "PNG" } } },
      legend: { data: [labels.customers, labels.arr] },
      grid: { left: 50, right: 70, top: 40, bottom: 30 },
      xAxis: { type: "category", data: rows.map(function (r) { return r.label; }) },
      yAxis: [{ type: "value", name: labels.customers, minInterval: 1 }, { type: "value", name: labels.arr, axisLabel: { formatter: compact } }],
      series: [
        { name: labels.customers, type: "bar", data: rows.map(function (r) { return r.customers; }) },
        { name: labels.arr, type: "bar", yAxisIndex: 1, data: rows.map(function (r) { return Math.round(r.arr); }) }
      ]
    });
    chart.on("click", function (p) { var row = rows[p.dataIndex]; if (row) window.location = row.link; });
    el.dataset.points = String(rows.length);
    window.addEventListener("resize", function () { chart.resize(); });
  }
  function drawHealth() {  // accounts per health band, week by week (stacked; the bands' own colours)
    var el = document.getElementById("health-chart"), data = document.getElementById("health-data");
    if (!el || !data || !window.echarts) return;
    var points = JSON.parse(data.textContent), labels = JSON.parse(document.getElementById("health-labels").textContent);
    var colours = { green: "#2e9d5b", yellow: "#e69f00", red: "#d1452f" };
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      toolbox: { feature: { saveAsImage: { title: "PNG" } } },
      legend: { data: ["green", "yellow", "red"].map(function (b) { return labels[b]; }) },
      grid: { left: 45, right: 20, top: 35, bottom: 25 },
      xAxis: { type: "category", data: points.map(function (p) { return p.week.slice(5); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: ["green", "yellow", "red"].map(function (b) {
        return { name: labels[b], type: "bar", stack: "bands", itemStyle: { color: colours[b] },
                 data: points.map(function (p) { return p[b]; }) };
      })
    });
    el.dataset.points = String(points.length);
    window.addEventListener("resize", function () { chart.resize(); });
  }
  function start() { draw(); drawHealth(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
