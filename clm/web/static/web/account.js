// The usage chart of the account page: weekly active users and core-feature minutes (ECharts).
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
      legend: { data: [labels.users, labels.minutes] },
      grid: { left: 12, right: 12, top: 56, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: usage.weeks, axisLabel: { formatter: function (v) { return v.slice(5); } } },
      yAxis: [
        { type: "value", name: labels.usersAxis, minInterval: 1, nameTextStyle: { align: "left" } },
        { type: "value", name: labels.minutesAxis, minInterval: 1, nameTextStyle: { align: "right" }, splitLine: { show: false } }
      ],
      series: [
        { name: labels.users, type: "line", showSymbol: false, data: usage.active_users },
        { name: labels.minutes, type: "bar", yAxisIndex: 1, data: usage.core_minutes, itemStyle: { opacity: 0.45 } }
      ]
    });
    el.dataset.points = String(usage.weeks.length);
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
