// Survey results and feedback themes (ECharts): bars from the page's JSON, integer ticks, a PNG export.
(function () {
  var PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00"];  // Okabe–Ito
  function draw() {
    var el = document.getElementById("voice-chart"), data = document.getElementById("voice-data");
    if (!el || !data || !window.echarts) return;
    var spec = JSON.parse(data.textContent);
    var chart = echarts.init(el, null, { renderer: "canvas" });
    var series, categories;
    if (spec.series) {  // themes: a stacked bar per category over months
      categories = spec.months;
      series = spec.series.map(function (s) { return { name: s.name, type: "bar", stack: "all", data: s.data }; });
    } else {  // one survey: answers per score
      categories = spec.scores.map(String);
      series = [{ name: spec.axis, type: "bar", data: spec.counts }];
    }
    chart.setOption({
      animation: false, color: PALETTE, tooltip: { trigger: "axis" },
      toolbox: { feature: { saveAsImage: { title: "PNG" } } },
      legend: series.length > 1 ? { top: 0 } : undefined,
      grid: { left: 48, right: 16, top: series.length > 1 ? 64 : 40, bottom: 30 },
      xAxis: { type: "category", data: categories },
      yAxis: { type: "value", name: spec.axis, minInterval: 1 },
      series: series
    });
    el.dataset.points = String(categories.length);
    window.addEventListener("resize", function () { chart.resize(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
