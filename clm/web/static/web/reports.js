// The dashboard pages' charts (ECharts): each figure's JSON (the same the API gives, with its
// labels in the page's language) drawn by its key; a click opens the accounts behind the part.
(function () {
  var COLORS = ["#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#f0e442", "#999999"];
  var chinese = (document.documentElement.lang || "").indexOf("zh") === 0;
  var words = {};
  function compact(v) {
    var a = Math.abs(v), s = v < 0 ? "-" : "";
    if (chinese) return s + (a >= 1e8 ? +(a / 1e8).toFixed(1) + "亿" : a >= 1e4 ? +(a / 1e4).toFixed(1) + "万" : String(+a.toFixed(0)));
    return s + (a >= 1e6 ? +(a / 1e6).toFixed(1) + "M" : a >= 1e3 ? +(a / 1e3).toFixed(1) + "k" : String(+a.toFixed(0)));
  }
  function pct(v) { return v == null ? "–" : (v * 100).toFixed(1) + "%"; }
  function col(f, name) { return f.columns.indexOf(name); }
  function values(f, name) { var i = col(f, name); return f.rows.map(function (r) { return r[i]; }); }
  function names(f, name) { var i = col(f, name); return f.names.map(function (r) { return r[i]; }); }
  function label(f, name) { return f.labels[col(f, name)]; }
  function go(f, part) { var href = f.links[part]; if (href) window.location = href; }
  function base(extra) {
    var option = { animation: false, color: COLORS, tooltip: { trigger: "axis" },
      toolbox: { feature: { saveAsImage: { title: "PNG", pixelRatio: 2 } } },
      grid: { left: 70, right: 60, top: 50, bottom: 60, containLabel: true } };
    for (var k in extra) option[k] = extra[k];
    return option;
  }
  function bars(f, x, series, opts) {
    opts = opts || {};
    return base({
      legend: { top: 0 }, xAxis: { type: "category", data: names(f, x), axisLabel: { rotate: opts.rotate || 0 } },
      yAxis: opts.yAxis || { type: "value", axisLabel: { formatter: opts.percent ? pct : compact } },
      tooltip: { trigger: "axis", valueFormatter: opts.percent ? pct : compact },
      series: series.map(function (s) {
        var out = { name: label(f, s), type: opts.type || "bar", data: values(f, s), stack: opts.stack };
        return out;
      })
    });
  }
  function across(f, names, series, opts) {  // horizontal bars: long category names stay readable
    opts = opts || {};
    var fmt = opts.percent ? pct : compact;
    return base({
      legend: { top: 0 }, grid: { left: 20, right: 60, top: 40, bottom: 20, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: fmt },
      yAxis: { type: "category", data: names, inverse: true, axisLabel: { width: 260, overflow: "break" } },
      xAxis: { type: "value", axisLabel: { formatter: fmt }, max: opts.percent ? 1 : null },
      series: series.map(function (s) { return { name: label(f, s), type: "bar", data: values(f, s) }; })
    });
  }
  function cell(f, p) { return f.rows[p.value[1]][0] + ":m" + p.value[0]; }  // clm.reports.charts.cohorts.cell
  function heat(f) {
    var ages = f.columns.slice(2), data = [], max = 1;
    var counts = words[f.key === "cohorts.repurchase" ? "cell_repurchase" : "cell_mrr"] || "";
    f.rows.forEach(function (r, y) { ages.forEach(function (_a, x) { var v = r[x + 2]; if (v != null) { data.push([x, y, v]); max = Math.max(max, v); } }); });
    return base({
      tooltip: { position: "top", formatter: function (p) {
        var row = f.rows[p.value[1]], n = f.counts[cell(f, p)] || 0;
        return row[0] + " · " + f.labels[p.value[0] + 2] + ": " + pct(p.value[2]) + "<br>" +
          counts.replace("{n}", n).replace("{size}", row[1]);
      } },
      grid: { left: 80, right: 30, top: 20, bottom: 90, containLabel: true },
      xAxis: { type: "category", data: f.labels.slice(2) }, yAxis: { type: "category", data: values(f, "cohort"), inverse: true },
      visualMap: { min: 0, max: Math.min(max, 1.5), calculable: true, orient: "horizontal", left: "center", bottom: 0,
        inRange: { color: ["#fff7ec", "#fdbb84", "#d7301f"] }, formatter: function (v) { return pct(v); } },
      series: [{ type: "heatmap", data: data, label: { show: true, formatter: function (p) { return Math.round(p.value[2] * 100); } } }]
    });
  }
  var DRAW = {
    "flows.sankey": function (f) {
      var steps = f.extra.steps || [], nodes = {}, links = [];
      var stage = {}; f.rows.forEach(function (r, i) { stage[r[0]] = f.names[i][0]; stage[r[1]] = f.names[i][1]; });
      steps.forEach(function (s) {
        var a = stage[s[1]] + " · " + s[0], b = stage[s[2]] + " · " + (s[0] + 1);
        nodes[a] = 1; nodes[b] = 1; links.push({ source: a, target: b, value: s[3], part: s[1] + ">" + s[2] });
      });
      return base({ tooltip: { trigger: "item" }, series: [{ type: "sankey", left: 20, right: 120, data: Object.keys(nodes).map(function (n) { return { name: n }; }),
        label: { formatter: function (p) { return p.name.split(" · ")[0]; } },
        links: links, emphasis: { focus: "adjacency" }, lineStyle: { color: "gradient", curveness: 0.5 } }] });
    },
    "flows.stage_time": function (f) { return bars(f, "stage", ["median_days", "mean_days"]); },
    "flows.returns": function (f) {
      var o = bars(f, "month", ["lapsed", "returned"]);
      o.yAxis = [{ type: "value", minInterval: 1 }, { type: "value", axisLabel: { formatter: pct } }];
      o.series.push({ name: label(f, "share"), type: "line", yAxisIndex: 1, data: values(f, "share") });
      o.tooltip = { trigger: "axis" };
      return o;
    },
    "revenue.waterfall": function (f) {
      var up = ["new", "expansion", "reactivation"], down = ["contraction", "churn"];
      var o = bars(f, "month", up, { stack: "mrr" });
      down.forEach(function (k) { o.series.push({ name: label(f, k), type: "bar", stack: "mrr", data: values(f, k).map(function (v) { return -v; }) }); });
      o.series.push({ name: label(f, "closing_mrr"), type: "line", data: values(f, "closing_mrr"), yAxisIndex: 1 });
      o.yAxis = [{ type: "value", axisLabel: { formatter: compact } }, { type: "value", axisLabel: { formatter: compact } }];
      o.series.forEach(function (s, i) { s.part = (up.concat(down))[i]; });
      return o;
    },
    "revenue.retention": function (f) { return bars(f, "month", ["nrr", "grr"], { percent: true, type: "line", yAxis: { type: "value", scale: true, axisLabel: { formatter: pct } } }); },
    "revenue.cohort_retention": function (f) { return bars(f, "cohort", ["nrr", "grr"], { percent: true }); },
    "revenue.arr_segments": function (f) {
      return across(f, f.names.map(function (n) { return n[0] + ": " + n[1]; }), ["arr"]);
    },
    "cohorts.logo": heat, "cohorts.revenue": heat, "cohorts.repurchase": heat,
    "value.clv": function (f) {
      var o = bars(f, "low", ["accounts"]);
      o.xAxis.data = f.rows.map(function (r) { return (r[0] == null ? "<0" : compact(r[0])) + "–" + compact(r[1]); });
      o.yAxis = { type: "value", minInterval: 1 }; o.tooltip = { trigger: "axis" };
      return o;
    },
    "value.tiers": function (f) {
      var months = [], tiers = [], named = {};
      f.rows.forEach(function (r, i) { if (months.indexOf(r[0]) < 0) months.push(r[0]); if (tiers.indexOf(r[1]) < 0) tiers.push(r[1]); named[r[1]] = f.names[i][1]; });
      return base({ legend: { top: 0 }, xAxis: { type: "category", data: months }, yAxis: { type: "value", minInterval: 1 },
        series: tiers.map(function (t) { return { id: t, name: named[t], type: "bar", stack: "tiers", data: months.map(function (m) {
          var row = f.rows.filter(function (r) { return r[0] === m && r[1] === t; })[0]; return row ? row[2] : 0; }) }; }) });
    },
    "value.economics": function (f) {
      var o = bars(f, "channel", ["cac"]);
      o.series.push({ name: label(f, "cac_share_of_ltv"), type: "line", yAxisIndex: 1, data: values(f, "cac_share_of_ltv"),
        connectNulls: false, symbolSize: 9, markLine: { symbol: "none", data: [
          { yAxis: f.extra.bands.warning, lineStyle: { color: "#e69f00" }, label: { formatter: words.warning, position: "insideStartTop" } },
          { yAxis: f.extra.bands.alarm, lineStyle: { color: "#d55e00" }, label: { formatter: words.alarm, position: "insideStartTop" } }] } });
      o.yAxis = [{ type: "value", name: label(f, "cac"), axisLabel: { formatter: compact } },
        { type: "value", name: label(f, "cac_share_of_ltv"), min: 0, max: function (v) { return Math.max(v.max, 0.6); }, axisLabel: { formatter: pct } }];
      o.tooltip = { trigger: "axis" };
      return o;
    },
    "quality.churners": function (f) { var o = bars(f, "outcome", ["churners"]); o.tooltip = { trigger: "axis" }; o.yAxis = { type: "value", minInterval: 1 }; return o; },
    "quality.recall": function (f) { return across(f, names(f, "signal"), ["recall_in_time", "precision"], { percent: true }); },
    "quality.lead_time": function (f) { var o = bars(f, "quantile", ["days"]); o.tooltip = { trigger: "axis" }; o.yAxis = { type: "value" }; return o; },
    "quality.calibration": function (f) {
      var pts = f.rows.map(function (r) { return [r[2], r[3]]; });
      return base({ tooltip: { trigger: "item", formatter: function (p) { return pct(p.value[0]) + " → " + pct(p.value[1]); } }, legend: { top: 0 },
        xAxis: { type: "value", name: label(f, "mean_predicted"), nameLocation: "middle", nameGap: 30, min: 0, max: 1, axisLabel: { formatter: pct } },
        yAxis: { type: "value", name: label(f, "observed_rate"), min: 0, max: 1, axisLabel: { formatter: pct } },
        series: [{ name: f.labels[3], type: "line", data: pts, symbolSize: 8 },
          { name: words.diagonal, type: "line", data: [[0, 0], [1, 1]], lineStyle: { type: "dashed", color: "#999" }, symbol: "none" }] });
    },
    "team.people": function (f) {
      var o = across(f, f.names.map(function (n) { return n[2] + " · " + n[0]; }), ["arr"]);
      o.series.forEach(function (s) { s.label = { show: true, position: "right", formatter: function (p) { return compact(p.value); } }; });
      return o;
    }
  };
  var PARTS = {  // the part a click on a data point stands for (see clm.web.report_views.row_part)
    "flows.sankey": function (f, p) { return p.data && p.data.part; },
    "revenue.waterfall": function (f, p) { var s = ["new", "expansion", "reactivation", "contraction", "churn"][p.seriesIndex]; return s && f.rows[p.dataIndex][0] + ":" + s; },
    "revenue.arr_segments": function (f, p) { var r = f.rows[p.dataIndex]; return r[0] + ":" + r[1]; },
    "quality.recall": function () { return null; },
    "cohorts.logo": cell,
    "value.clv": function (f, p) { var r = f.rows[p.dataIndex]; return r[0] == null ? "negative" : Object.keys(f.links)[p.dataIndex]; },
    "value.tiers": function (f, p) { return p.name + ":" + p.seriesId; },
    "team.people": function (f, p) { var r = f.rows[p.dataIndex]; return r[0] + ":" + r[1]; }
  };
  var TALL = { "revenue.arr_segments": 1, "quality.recall": 1, "team.people": 1 };
  PARTS["cohorts.revenue"] = PARTS["cohorts.repurchase"] = PARTS["cohorts.logo"];
  function draw() {
    if (!window.echarts) return;
    var w = document.getElementById("report-words"); words = w ? JSON.parse(w.dataset.words) : {};
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var key = el.dataset.chart, data = document.getElementById(key), make = DRAW[key];
      if (!data || !make) return;
      var f = JSON.parse(data.textContent);
      if (TALL[key]) el.style.height = Math.max(280, f.rows.length * 34 + 90) + "px";
      var chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(make(f));
      chart.on("click", function (p) {
        var part = PARTS[key] ? PARTS[key](f, p) : f.rows[p.dataIndex] && String(f.rows[p.dataIndex][0]);
        if (part) go(f, part);
      });
      el.dataset.points = String(f.rows.length);
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
