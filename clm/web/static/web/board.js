// The value board's trends (ECharts): each objective's metric week by week, with its target line.
(function () {
  // a round top above both the data and the target, so the target line is always in view
  function roomFor(m) {
    if (!(m > 0)) return 1;
    var step = Math.pow(10, Math.floor(Math.log10(m))) / 2;
    return Math.ceil((m * 1.05) / step) * step;
  }
  function draw() {
    var charts = [];
    document.querySelectorAll(".chart[data-trend]").forEach(function (el) {
      var data = document.getElementById(el.dataset.trend);
      if (!data || !window.echarts) return;
      var trend = JSON.parse(data.textContent), target = parseFloat(el.dataset.target);
      var chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption({
        animation: false,
        color: ["#0969da"],
        tooltip: { trigger: "axis" },
        grid: { left: 8, right: 16, top: 24, bottom: 8, containLabel: true },
        xAxis: { type: "category", data: trend.weeks, axisLabel: { formatter: function (v) { return v.slice(5); } } },
        yAxis: { type: "value", max: isNaN(target) ? null : function (v) { return roomFor(Math.max(v.max, target)); } },
        series: [{
          name: el.dataset.seriesName, type: "line", showSymbol: false, data: trend.values, areaStyle: { opacity: 0.12 },
          markLine: isNaN(target) ? undefined : {
            symbol: "none", lineStyle: { type: "dashed", color: "#1a7f37" },
            label: { formatter: el.dataset.targetLabel + " {c}", position: "insideEndTop" }, data: [{ yAxis: target }]
          }
        }]
      });
      el.dataset.points = String(trend.weeks.length);
      charts.push(chart);
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
    window.addEventListener("beforeprint", function () { charts.forEach(function (c) { c.resize(); }); });
    document.querySelectorAll("[data-print]").forEach(function (b) { b.addEventListener("click", function () { window.print(); }); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
