// The win-back page's chart: success rate and cases evaluated per root cause (ECharts), with a PNG export.
(function () {
  function draw() {
    var el = document.getElementById("cause-chart"), data = document.getElementById("cause-data");
    if (!el || !data || !window.echarts) return;
    var rows = JSON.parse(data.textContent), labels = JSON.parse(el.dataset.labels || "{}");
    // causes down the side, so every name shows whole however narrow the column and however many causes
    el.style.height = Math.max(220, 90 + 44 * rows.length) + "px";
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      color: ["#0072b2", "#e69f00"],  // Okabe–Ito: safe for colour-blind readers
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      toolbox: { feature: { saveAsImage: { title: "PNG" } } },
      legend: { data: [labels.rate, labels.cases], top: 0, left: 0 },
      grid: { left: 8, right: 24, top: 72, bottom: 36, containLabel: true },
      yAxis: { type: "category", inverse: true, data: rows.map(function (r) { return r.label; }),
               axisLabel: { interval: 0 } },
      xAxis: [{ type: "value", name: labels.rate, max: 100, position: "bottom", nameLocation: "middle", nameGap: 24 },
              { type: "value", name: labels.cases, minInterval: 1, position: "top", nameLocation: "middle", nameGap: 24,
                splitLine: { show: false } }],
      series: [
        { name: labels.rate, type: "bar", xAxisIndex: 0, data: rows.map(function (r) { return r.rate; }) },
        { name: labels.cases, type: "bar", xAxisIndex: 1, data: rows.map(function (r) { return r.cases; }) }
      ]
    });
    el.dataset.points = String(rows.length);
    window.addEventListener("resize", function () { chart.resize(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
