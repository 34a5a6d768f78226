// The usage chart of the account page: daily active users and core-feature minutes (ECharts).
(function () {
  function draw() {
    var el = document.getElementById("usage-chart"), data = document.getElementById("usage-data");
    if (!el || !data || !window.echarts) return;
    var usage = JSON.parse(data.textContent);
    var labels = JSON.parse(el.dataset.labels || "null") || {};
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { data: [labels.users || "Active users", labels.minutes || "Core-feature minutes"] },
      grid: { left: 44, right: 52, top: 36, bottom: 28 },
      xAxis: { type: "category", data: usage.days },
      yAxis: [{ type: "value", name: labels.users || "Active users" }, { type: "value", name: labels.minutes || "Minutes" }],
      series: [
        { name: labels.users || "Active users", type: "line", showSymbol: false, data: usage.active_users },
        { name: labels.minutes || "Core-feature minutes", type: "bar", yAxisIndex: 1, data: usage.core_minutes, itemStyle: { opacity: 0.45 } }
      ]
    });
    el.dataset.points = String(usage.days.length);
    window.addEventListener("resize", function () { chart.resize(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();

// The health trend (when the lifecycle engine has scored the account): score with the band lines.
(function () {
  function draw() {
    var el = document.getElementById("health-trend"), data = document.getElementById("health-data");
    if (!el || !data || !window.echarts) return;
    var trend = JSON.parse(data.textContent);
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      grid: { left: 34, right: 12, top: 12, bottom: 24 },
      xAxis: { type: "category", data: trend.days },
      yAxis: { type: "value", min: 0, max: 100 },
      series: [{
        type: "line", data: trend.scores, showSymbol: trend.days.length < 40,
        markLine: { symbol: "none", silent: true, label: { show: false },
          data: [{ yAxis: 75, lineStyle: { color: "#1a9d5a" } }, { yAxis: 60, lineStyle: { color: "#d33a2c" } }] }
      }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
