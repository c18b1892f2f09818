// bakeoff's results page: explore every experiment and host in the store offline. The data is
// the JSON in #data (written by `bakeoff report`); everything here is drawn from it in the
// browser, nothing is fetched. What the page shows is kept in the URL's fragment, so a link
// shows a colleague the same table.
"use strict";
(function () {
  const started = performance.now();
  const errorBox = document.getElementById("errors");
  function fail(message) {
    errorBox.hidden = false;
    errorBox.textContent += message + "\n";
  }
  window.addEventListener("error", function (event) { fail("error: " + event.message); });

  const data = JSON.parse(document.getElementById("data").textContent);
  const controls = document.getElementById("controls");
  const view = document.getElementById("view");
  // Each metric's unit, better side, label, family, phase and kind come from bakeoff's metric
  // catalogue in the data: this script reads no meaning into a metric's name.
  function isUsage(metric) { return metric.kind === "usage"; }

  // ---------------------------------------------------------------- state in the fragment
  function readState() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    const hidden = {};
    (params.get("hide") || "").split(",").filter(Boolean).forEach(function (pair) {
      const at = pair.indexOf(":");
      if (at < 0) return;
      const axis = decodeURIComponent(pair.slice(0, at));
      (hidden[axis] = hidden[axis] || []).push(decodeURIComponent(pair.slice(at + 1)));
    });
    return {
      experiment: params.get("e") || "",
      metric: params.get("m") || "",
      rows: params.get("r") || "",
      columns: params.has("c") ? params.get("c") : null,
      baseline: params.get("b") || "",
      // Absent: chosen at the first render (a conversation opens on its turns, a client's
      // session on its requests).
      chart: params.has("x") ? params.get("x") : null,
      hidden: hidden,
      cell: params.get("cell") || "",
    };
  }

  function writeState() {
    const params = new URLSearchParams();
    params.set("e", state.experiment);
    params.set("m", state.metric);
    if (state.rows) params.set("r", state.rows);
    if (state.columns !== null) params.set("c", state.columns);
    if (state.baseline) params.set("b", state.baseline);
    if (state.chart !== null) params.set("x", state.chart);
    const hide = [];
    Object.keys(state.hidden).sort().forEach(function (axis) {
      state.hidden[axis].slice().sort().forEach(function (value) {
        hide.push(encodeURIComponent(axis) + ":" + encodeURIComponent(value));
      });
    });
    if (hide.length) params.set("hide", hide.join(","));
    if (state.cell) params.set("cell", state.cell);
    const fragment = "#" + params.toString();
    if (location.hash !== fragment) history.replaceState(null, "", fragment);
  }

  let state = readState();

  // ---------------------------------------------------------------- the data, by experiment
  function experimentOf(name) {
    return data.experiments.find(function (experiment) { return experiment.name === name; });
  }

  // The dimensions cells of an experiment differ in: its axes, the workload and the host.
  function dimensions(experiment, cells) {
    const dims = experiment.axes.map(function (axis) { return { name: axis.name, values: axis.values, numeric: axis.numeric, sweep: axis.sweep }; });
    [["workload", function (cell) { return cell.workload; }], ["host", function (cell) { return cell.host; }]].forEach(function (pair) {
      const values = Array.from(new Set(cells.map(pair[1]))).sort();
      dims.push({ name: pair[0], values: values, numeric: false });
    });
    return dims;
  }

  function valueOf(cell, dim) {
    if (dim === "workload") return cell.workload;
    if (dim === "host") return cell.host;
    return cell.axes[dim];
  }

  // ---------------------------------------------------------------- numbers for people
  function formatValue(value, unit) {
    if (unit === "bytes") {
      const units = ["B", "KiB", "MiB", "GiB", "TiB"];
      let scaled = value;
      let index = 0;
      while (Math.abs(scaled) >= 1024 && index < units.length - 1) { scaled /= 1024; index += 1; }
      return (index === 0 ? scaled.toFixed(0) : scaled.toFixed(1)) + " " + units[index];
    }
    if (unit === "ms") return value >= 10000 ? (value / 1000).toFixed(1) + " s" : value.toFixed(0) + " ms";
    if (Number.isInteger(value)) return String(value) + (unit ? " " + unit : "");
    const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 1 ? 1 : 3;
    return value.toFixed(digits) + (unit ? " " + unit : "");
  }

  function unitOf(experiment, metric) {
    const found = experiment.metrics.find(function (candidate) { return candidate.name === metric; });
    return found ? found.unit : "";
  }

  // ---------------------------------------------------------------- Welch's t-test
  function mean(values) { return values.reduce(function (a, b) { return a + b; }, 0) / values.length; }
  function variance(values) {
    const m = mean(values);
    return values.reduce(function (sum, value) { return sum + (value - m) * (value - m); }, 0) / (values.length - 1);
  }
  // The regularized incomplete beta function, by its continued fraction (Lentz's method).
  function incompleteBeta(x, a, b) {
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    const lnBeta = logGamma(a + b) - logGamma(a) - logGamma(b);
    const front = Math.exp(Math.log(x) * a + Math.log(1 - x) * b + lnBeta);
    if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
    let f = 1, c = 1, d = 0;
    for (let i = 0; i <= 300; i += 1) {
      const m = i / 2;
      let numerator;
      if (i === 0) numerator = 1;
      else if (i % 2 === 0) numerator = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
      else numerator = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
      d = 1 + numerator * d;
      if (Math.abs(d) < 1e-30) d = 1e-30;
      d = 1 / d;
      c = 1 + numerator / c;
      if (Math.abs(c) < 1e-30) c = 1e-30;
      const step = c * d;
      f *= step;
      if (Math.abs(1 - step) < 1e-12) break;
    }
    return front * (f - 1) / a;
  }
  function logGamma(z) {
    const g = [676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
      12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
    if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - logGamma(1 - z);
    z -= 1;
    let x = 0.99999999999980993;
    for (let i = 0; i < g.length; i += 1) x += g[i] / (z + i + 1);
    const t = z + g.length - 0.5;
    return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(x);
  }
  // Two-sided p of Welch's t-test between two samples of rounds; null with fewer than 2 each.
  function welch(a, b) {
    if (!a || !b || a.length < 2 || b.length < 2) return null;
    const va = variance(a) / a.length, vb = variance(b) / b.length;
    if (va + vb === 0) return mean(a) === mean(b) ? 1 : 0;
    const t = (mean(a) - mean(b)) / Math.sqrt(va + vb);
    const df = (va + vb) * (va + vb) / (va * va / (a.length - 1) + vb * vb / (b.length - 1));
    return incompleteBeta(df / (df + t * t), df / 2, 0.5);
  }

  function pValue(p) { return p < 0.001 ? "<0.001" : "=" + p.toFixed(3); }

  // ---------------------------------------------------------------- building the DOM
  function element(tag, attributes, children) {
    const node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) {
      if (key === "text") node.textContent = attributes[key];
      else node.setAttribute(key, attributes[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }
  function select(label, name, options, chosen) {
    const box = element("select", { name: name, id: "control-" + name });
    options.forEach(function (option) {
      const node = element("option", { value: option[0], text: option[1] });
      if (option[0] === chosen) node.selected = true;
      box.appendChild(node);
    });
    return element("label", { for: "control-" + name }, [document.createTextNode(label), box]);
  }

  // ---------------------------------------------------------------- one render of the state
  function render() {
    controls.textContent = "";
    view.textContent = "";
    const experiments = data.experiments;
    const hosts = Object.keys(data.hosts);
    document.getElementById("summary").textContent =
      experiments.length + " experiment(s), " + hosts.length + " host(s), " + data.cells.length + " result(s)";
    if (!experiments.length) {
      view.appendChild(element("p", { text: "No results yet: `bakeoff run` records them, and `bakeoff report` writes this page." }));
      return;
    }
    let experiment = experimentOf(state.experiment) || experiments[0];
    state.experiment = experiment.name;
    const all = data.cells.filter(function (cell) { return cell.experiment === experiment.name; });
    const dims = dimensions(experiment, all);
    const names = dims.map(function (dim) { return dim.name; });
    Object.keys(state.hidden).forEach(function (axis) { if (names.indexOf(axis) < 0) delete state.hidden[axis]; });

    // Metrics: what the experiment measured, its own before what runs used.
    const metrics = experiment.metrics.slice().sort(function (a, b) {
      return isUsage(a) - isUsage(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    });
    if (!metrics.some(function (metric) { return metric.name === state.metric; })) {
      state.metric = defaultMetric(metrics);
    }
    const shown = all.filter(function (cell) {
      return names.every(function (dim) {
        const hidden = state.hidden[dim];
        return !hidden || hidden.indexOf(valueOf(cell, dim)) < 0;
      });
    });
    const varying = dims.filter(function (dim) {
      return new Set(shown.map(function (cell) { return valueOf(cell, dim.name); })).size > 1;
    });
    const varyingNames = varying.map(function (dim) { return dim.name; });
    if (state.columns === null || (state.columns && varyingNames.indexOf(state.columns) < 0)) {
      const preferred = ["toolbox", "host", "model"].find(function (name) { return varyingNames.indexOf(name) >= 0; });
      state.columns = state.columns === "" ? "" : (preferred || (varyingNames.length > 1 ? varyingNames[varyingNames.length - 1] : ""));
    }
    if (state.rows && (varyingNames.indexOf(state.rows) < 0 || state.rows === state.columns)) state.rows = "";
    if (!state.rows) state.rows = varyingNames.find(function (name) { return name !== state.columns; }) || "";
    const numeric = varying.filter(function (dim) { return dim.numeric; });
    const turns = turnMetrics(metrics, state.metric);
    // A search opens on its probes along the searched axis.
    const searched = experiment.search && numeric.some(function (dim) { return dim.name === experiment.search.axis; });
    if (state.chart === null) state.chart = turnCount(turns) > 1 ? "turn" : searched ? experiment.search.axis : "";
    if (state.chart && state.chart !== "turn" && !numeric.some(function (dim) { return dim.name === state.chart; })) state.chart = "";
    if (state.chart === "turn" && turnCount(turns) < 2) state.chart = "";
    const columnValues = state.columns
      ? dims.find(function (dim) { return dim.name === state.columns; }).values.filter(function (value) {
        return shown.some(function (cell) { return valueOf(cell, state.columns) === value; });
      })
      : [];
    if (state.baseline && columnValues.indexOf(state.baseline) < 0) state.baseline = "";

    // Controls.
    controls.appendChild(select("Experiment", "e", experiments.map(function (e) { return [e.name, e.name]; }), experiment.name));
    controls.appendChild(select("Metric", "m", metrics.map(function (metric) {
      return [metric.name, metric.name + (metric.unit ? " (" + metric.unit + ")" : "")];
    }), state.metric));
    const dimOptions = varying.map(function (dim) { return [dim.name, dim.name]; });
    controls.appendChild(select("Rows by", "r", dimOptions, state.rows));
    controls.appendChild(select("Columns", "c", [["", "(one column)"]].concat(dimOptions), state.columns));
    controls.appendChild(select("Baseline", "b", [["", "(none)"]].concat(columnValues.map(function (value) {
      return [value, state.columns + "=" + value];
    })), state.baseline));
    const charts = [["", numeric.length ? "bars" : "bars"]].concat(numeric.map(function (dim) { return [dim.name, "line over " + dim.name]; }));
    if (turnCount(turns) > 1) charts.push(["turn", "line over " + turns.along + "s"]);
    controls.appendChild(select("Chart", "x", charts, state.chart));
    const filters = element("div", { class: "filters" });
    dims.forEach(function (dim) {
      if (dim.values.length < 2) return;
      const set = element("fieldset", {}, [element("legend", { text: dim.name })]);
      dim.values.forEach(function (value) {
        const box = element("input", { type: "checkbox", name: "hide", "data-axis": dim.name, value: value });
        box.checked = !(state.hidden[dim.name] || []).includes(value);
        set.appendChild(element("label", {}, [box, document.createTextNode(value)]));
      });
      filters.appendChild(set);
    });
    controls.appendChild(filters);

    // The view.
    if (experiment.description) view.appendChild(element("p", { class: "note", text: experiment.description }));
    const metric = state.metric;
    const unit = unitOf(experiment, metric);
    const better = (experiment.metrics.find(function (m) { return m.name === metric; }) || {}).better;
    if (experiment.search) view.appendChild(searchSection(experiment.search));
    if (experiment.quality) view.appendChild(qualitySection(experiment.quality));
    view.appendChild(element("h2", { text: experiment.name + ": " + metric }));
    if (!shown.length) {
      view.appendChild(element("p", { text: "No result matches the filters." }));
    } else {
      view.appendChild(table(shown, varying, metric, unit, better, columnValues));
      view.appendChild(chart(shown, varying, metric, unit, turns, better));
    }
    view.appendChild(problems(shown));
    const chosen = data.cells.find(function (cell) { return cell.provenance.hash === state.cell; });
    if (chosen) view.appendChild(provenance(chosen, experiment));
    writeState();
    document.body.setAttribute("data-render-ms", (performance.now() - started).toFixed(0));
  }

  // What a person looks at first, as the report's summary leads: generation and prompt speed;
  // time to first token cold (the first request), per turn, then warm; generation. A mean over
  // phases (a cold minute averaged with warm tenths of a second) is never the first view.
  function defaultMetric(metrics) {
    const phased = function (metric) {
      return metrics.some(function (other) {
        return other.family === metric.family && (other.phase === "first" || isTurn(other));
      });
    };
    const score = function (metric) {
      if (metric.family === "tg") return 0;
      if (metric.family === "pp" || metric.family === "pp+tg") return 1;
      // A conversation's report leads with its turns, the first session's turn 1 (cold) first.
      if (metric.family === "ttft_ms" && metric.phase === "turn-first" && metric.k === 1) return 1.5;
      // An agent client's session leads with its requests, the first (cold) one first.
      if (metric.family === "ttft_ms" && metric.phase === "request" && metric.k === 1) return 1.5;
      if (metric.family === "ttft_ms" && metric.phase === "first") return 2;
      if (metric.family === "ttft_ms" && metric.phase === "turn" && metric.k === 1) return 3;
      if (metric.family === "ttft_ms" && metric.phase === "warm") return 4;
      if (metric.family === "ttft_ms" && metric.phase === "turn-warm" && metric.k === 1) return 4;
      if (metric.family === "ttft_ms" && metric.phase === "all" && !phased(metric)) return 4;
      if (metric.family === "gen_tps" && metric.phase === "all") return 5;
      if (isUsage(metric)) return 9;
      return metric.phase === "all" && phased(metric) ? 8 : 6;
    };
    const sorted = metrics.slice().sort(function (a, b) { return score(a) - score(b); });
    return sorted.length ? sorted[0].name : "";
  }

  // A conversation's sessions, told apart: the first (its turn 1 cold), the later ones (which
  // the prompt cache serves), and, in records from before they were kept apart, every session.
  const SESSIONS = [["turn-first", "first session"], ["turn-warm", "later sessions"], ["turn", "every session"]];
  function isTurn(metric) {
    return SESSIONS.some(function (session) { return session[0] === metric.phase; });
  }

  // An agent client's or a replayed trace's requests, one line per configuration.
  const REQUESTS = [["request", "requests"]];

  // Per-turn (or per-request) siblings of such a metric: what the x axis counts, and a list per
  // session: [words, [[k, name], …]], each list in order, the chosen metric's session first.
  function turnMetrics(metrics, chosen) {
    const picked = metrics.find(function (metric) { return metric.name === chosen; });
    const none = { along: "", sessions: [] };
    if (!picked) return none;
    const requests = picked.phase === "request";
    if (!requests && !isTurn(picked)) return none;
    const groups = requests ? REQUESTS : SESSIONS;
    const sessions = groups.slice().sort(function (a, b) { return (b[0] === picked.phase) - (a[0] === picked.phase); })
      .map(function (session) {
        const named = metrics
          .filter(function (metric) { return metric.phase === session[0] && metric.family === picked.family; })
          .map(function (metric) { return [metric.k, metric.name]; })
          .sort(function (a, b) { return a[0] - b[0]; });
        return [session[1], named];
      })
      .filter(function (session) { return session[1].length; });
    return { along: requests ? "request" : "conversation turn", sessions: sessions, requests: requests };
  }

  // How many turns the longest session has.
  function turnCount(turns) {
    return turns.sessions.reduce(function (most, session) { return Math.max(most, session[1].length); }, 0);
  }

  // Rows: every combination of the varying dimensions but the columns', the chosen one first.
  function rowKey(cell, rowDims) {
    return rowDims.map(function (dim) { return dim + "=" + valueOf(cell, dim); }).join(", ");
  }
  function rowDimensions(varying) {
    const names = varying.map(function (dim) { return dim.name; }).filter(function (name) { return name !== state.columns; });
    names.sort(function (a, b) { return (b === state.rows) - (a === state.rows); });
    return names;
  }
  function orderedRows(cells, varying, rowDims) {
    const keys = [];
    const seen = new Set();
    const order = function (cell) {
      return rowDims.map(function (dim) {
        const found = varying.find(function (candidate) { return candidate.name === dim; });
        const index = found.values.indexOf(valueOf(cell, dim));
        return index < 0 ? 1e9 : index;
      });
    };
    cells.slice().sort(function (a, b) {
      const x = order(a), y = order(b);
      for (let i = 0; i < x.length; i += 1) if (x[i] !== y[i]) return x[i] - y[i];
      return 0;
    }).forEach(function (cell) {
      const key = rowKey(cell, rowDims);
      if (!seen.has(key)) { seen.add(key); keys.push([key, cell]); }
    });
    return keys;
  }

  function table(cells, varying, metric, unit, better, columnValues) {
    const rowDims = rowDimensions(varying);
    const columns = state.columns ? columnValues : [""];
    const grid = {};
    cells.forEach(function (cell) {
      const key = rowKey(cell, rowDims) + "|" + (state.columns ? valueOf(cell, state.columns) : "");
      grid[key] = cell;
    });
    const caption = metric + (unit ? " (" + unit + ")" : "") + (better ? ", " + better + " is better" : "") +
      (state.baseline ? "; ratios against " + state.columns + "=" + state.baseline : "");
    const head = element("tr", {}, [element("th", { scope: "col", text: rowDims.join(", ") || "cell" })]
      .concat(columns.map(function (column) { return element("th", { scope: "col", text: state.columns ? state.columns + "=" + column : metric }); })));
    const body = element("tbody");
    orderedRows(cells, varying, rowDims).forEach(function (row) {
      const tr = element("tr", {}, [element("th", { scope: "row", text: row[0] || "(all)" })]);
      columns.forEach(function (column) {
        const cell = grid[row[0] + "|" + column];
        tr.appendChild(entry(cell, metric, unit, grid[row[0] + "|" + state.baseline], column === state.baseline));
      });
      body.appendChild(tr);
    });
    const result = element("table", { id: "results" }, [element("caption", { text: caption }), element("thead", {}, [head]), body]);
    return element("div", { class: "scroll" }, [result]);
  }

  function entry(cell, metric, unit, reference, isBaseline) {
    const td = element("td", { class: "value" });
    if (!cell) return td;
    const button = element("button", { type: "button", "data-cell": cell.provenance.hash, title: "provenance of " + cell.id + " on " + cell.host });
    td.appendChild(button);
    if (cell.status !== "ok") {
      button.appendChild(element("span", { class: "status", text: cell.status }));
      return td;
    }
    const value = cell.metrics[metric];
    if (!value) {
      button.appendChild(element("span", { class: "status", text: "n/a" }));
      return td;
    }
    td.setAttribute("data-value", String(value.mean));
    let text = formatValue(value.mean, unit);
    if (value.spread) text += " ± " + formatValue(value.spread, unit).replace(/ .*$/, "");
    button.appendChild(document.createTextNode(text));
    // A cell an interrupted run left short of its rounds is not yet what the others are.
    if (cell.partial_rounds) {
      button.appendChild(element("span", { class: "ratio partial", text: cell.partial_rounds[0] + "/" + cell.partial_rounds[1] + " rounds",
        title: "fewer rounds recorded than the experiment asks for (an interrupted run); bakeoff run measures the rest" }));
    }
    if (state.baseline && reference && reference.status === "ok" && reference.metrics[metric]) {
      if (isBaseline) {
        button.appendChild(element("span", { class: "ratio baseline", text: "baseline" }));
      } else {
        const base = reference.metrics[metric];
        const ratio = base.mean !== 0 ? value.mean / base.mean : NaN;
        const p = welch(value.rounds, base.rounds);
        let verdict;
        if (p === null) verdict = "not enough rounds to test";
        else if (p < 0.05) verdict = "significant (Welch p" + pValue(p) + ")";
        else verdict = "n.s. (Welch p" + pValue(p) + ")";
        button.appendChild(element("span", { class: "ratio", text: (isFinite(ratio) ? ratio.toFixed(2) + "×" : "–") + ", " + verdict }));
      }
    }
    return td;
  }

  // ---------------------------------------------------------------- charts (SVG)
  const DASHES = ["", "6 3", "2 3", "8 3 2 3", "1 4", "10 4", "4 2 1 2", "12 3 3 3"];
  const MARKS = ["circle", "square", "triangle", "diamond"];
  // The page's one address: the SVG namespace, also given to the report's embedded chart.
  const SVG_NAMESPACE = "http://www.w3.org/2000/svg";
  function svgElement(tag, attributes, text) {
    const node = document.createElementNS(SVG_NAMESPACE, tag);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function mark(kind, x, y) {
    const size = 4;
    if (kind === "square") return svgElement("rect", { x: x - size, y: y - size, width: 2 * size, height: 2 * size, class: "series" });
    if (kind === "triangle") return svgElement("polygon", { points: [x, y - size, x + size, y + size, x - size, y + size].join(" "), class: "series" });
    if (kind === "diamond") return svgElement("polygon", { points: [x, y - size, x + size, y, x, y + size, x - size, y].join(" "), class: "series" });
    return svgElement("circle", { cx: x, cy: y, r: size, class: "series" });
  }
  function niceTicks(low, high) {
    if (low === high) { high = low + 1; }
    const span = high - low;
    const step = Math.pow(10, Math.floor(Math.log10(span / 4)));
    const multiple = [1, 2, 5, 10].find(function (m) { return span / (step * m) <= 6; }) || 10;
    const size = step * multiple;
    const ticks = [];
    // From below the lowest value to at least the highest.
    for (let value = Math.floor(low / size) * size; ; value += size) {
      ticks.push(Number(value.toPrecision(12)));
      if (value >= high - size * 1e-9 || ticks.length > 50) break;
    }
    return ticks;
  }

  function chart(cells, varying, metric, unit, turns, better) {
    const figure = element("figure", { id: "chart" });
    if (state.chart) figure.appendChild(lines(cells, varying, metric, unit, turns, better));
    else figure.appendChild(bars(cells, varying, metric, unit));
    return figure;
  }

  // The share of a line's first value, as the report's retention: only for a throughput along a
  // context sweep, which falls as the context grows; above 100% it is marked suspect, not a gain.
  function retentionOf(value, first) {
    const percent = (100 * value / first).toFixed(0);
    const shown = percent + "% of the first";
    return Number(percent) > 100 ? shown + ", suspect: a throughput does not rise with the context (noise or a warm-up effect)" : shown;
  }

  function lines(cells, varying, metric, unit, turns, better) {
    const overTurns = state.chart === "turn";
    const xDim = overTurns ? null : state.chart;
    const axis = varying.find(function (dim) { return dim.name === xDim; });
    const retains = !overTurns && better === "higher" && axis && axis.sweep;
    const seriesDims = varying.map(function (dim) { return dim.name; }).filter(function (name) { return name !== xDim; });
    const series = {};
    cells.forEach(function (cell) {
      if (cell.status !== "ok") return;
      const configuration = seriesDims.map(function (dim) { return dim + "=" + valueOf(cell, dim); }).join(", ");
      const key = configuration || metric;
      if (overTurns) {
        // A line per session: the cold first one and the cached later ones are never averaged.
        turns.sessions.forEach(function (session) {
          // The session leads the label, so that a shortened legend still tells them apart; a
          // client's requests are one session, named by its configuration alone.
          const sessionKey = turns.requests ? key : configuration ? session[0] + ": " + configuration : session[0];
          const points = series[sessionKey] = series[sessionKey] || [];
          session[1].forEach(function (turn) {
            const value = cell.metrics[turn[1]];
            if (value) points.push([turn[0], value.mean, value.spread || 0]);
          });
        });
      } else {
        const points = series[key] = series[key] || [];
        const value = cell.metrics[metric];
        if (value) points.push([Number(valueOf(cell, xDim)), value.mean, value.spread || 0]);
      }
    });
    const keys = Object.keys(series).filter(function (key) { return series[key].length; }).sort();
    const points = [].concat.apply([], keys.map(function (key) { return series[key]; }));
    const width = 760, height = 360, left = 70, right = 20, top = 20, bottom = 50;
    const svg = svgElement("svg", { viewBox: "0 0 " + width + " " + (height + 24 * keys.length), class: "line-chart", role: "img",
      "aria-label": metric + " against " + (overTurns ? turns.along : xDim) });
    if (!points.length) { svg.appendChild(svgElement("text", { x: 10, y: 20 }, "No value to draw.")); return svg; }
    const xs = points.map(function (p) { return p[0]; }), ys = points.map(function (p) { return p[1] + p[2]; });
    // The x axis marks the values measured; a range over a factor of 8 (context sizes) is
    // drawn on a log scale, so that the small values do not crowd together.
    const xTicks = Array.from(new Set(xs)).sort(function (a, b) { return a - b; });
    const yTicks = niceTicks(0, Math.max.apply(null, ys));
    const x0 = xTicks[0], x1 = xTicks[xTicks.length - 1], y1 = yTicks[yTicks.length - 1];
    const logarithmic = x0 > 0 && x1 / x0 >= 8;
    const position = function (x) { return logarithmic ? Math.log(x) : x; };
    const sx = function (x) {
      const span = position(x1) - position(x0);
      return left + (span ? (position(x) - position(x0)) / span : 0.5) * (width - left - right);
    };
    const sy = function (y) { return top + (1 - y / (y1 || 1)) * (height - top - bottom); };
    yTicks.forEach(function (tick) {
      svg.appendChild(svgElement("line", { x1: left, x2: width - right, y1: sy(tick), y2: sy(tick), class: "grid" }));
      svg.appendChild(svgElement("text", { x: left - 6, y: sy(tick) + 4, "text-anchor": "end" }, formatValue(tick, unit)));
    });
    xTicks.forEach(function (tick) {
      svg.appendChild(svgElement("text", { x: sx(tick), y: height - bottom + 18, "text-anchor": "middle" }, String(tick)));
    });
    svg.appendChild(svgElement("line", { x1: left, x2: width - right, y1: height - bottom, y2: height - bottom, class: "axis" }));
    svg.appendChild(svgElement("line", { x1: left, x2: left, y1: top, y2: height - bottom, class: "axis" }));
    svg.appendChild(svgElement("text", { x: (left + width - right) / 2, y: height - 8, "text-anchor": "middle" },
      (overTurns ? turns.along : xDim) + (logarithmic ? " (log scale)" : "")));
    keys.forEach(function (key, index) {
      const sorted = series[key].slice().sort(function (a, b) { return a[0] - b[0]; });
      const dash = DASHES[index % DASHES.length];
      const path = svgElement("polyline", { points: sorted.map(function (p) { return sx(p[0]) + "," + sy(p[1]); }).join(" "), class: "series" });
      if (dash) path.setAttribute("stroke-dasharray", dash);
      svg.appendChild(path);
      const first = retains ? sorted[0][1] : 0;
      sorted.forEach(function (p) {
        if (p[2]) svg.appendChild(svgElement("line", { x1: sx(p[0]), x2: sx(p[0]), y1: sy(Math.max(p[1] - p[2], 0)), y2: sy(p[1] + p[2]), class: "error" }));
        const dot = mark(MARKS[index % MARKS.length], sx(p[0]), sy(p[1]));
        const retention = first ? " (" + retentionOf(p[1], first) + ")" : "";
        dot.appendChild(svgElement("title", {}, key + " at " + p[0] + ": " + formatValue(p[1], unit) + retention));
        svg.appendChild(dot);
      });
      const y = height + 12 + 24 * index;
      const sample = svgElement("line", { x1: left, x2: left + 40, y1: y, y2: y, class: "series" });
      if (dash) sample.setAttribute("stroke-dasharray", dash);
      svg.appendChild(sample);
      svg.appendChild(mark(MARKS[index % MARKS.length], left + 20, y));
      const last = sorted[sorted.length - 1][1];
      const kept = first ? ": the last is " + retentionOf(last, first) : "";
      svg.appendChild(svgElement("text", { x: left + 50, y: y + 4 }, key + kept));
    });
    return svg;
  }

  function bars(cells, varying, metric, unit) {
    const drawn = cells.filter(function (cell) { return cell.status === "ok" && cell.metrics[metric]; });
    const labelDims = varying.map(function (dim) { return dim.name; });
    const rows = drawn.map(function (cell) {
      return [labelDims.map(function (dim) { return dim + "=" + valueOf(cell, dim); }).join(", ") || cell.id, cell.metrics[metric]];
    // Numbers in a label in numeric order (depth=128 before depth=1024), as the tables have them.
    }).sort(function (a, b) { return a[0].localeCompare(b[0], "en", { numeric: true }); });
    const width = 760, rowHeight = 26, left = 300, right = 90;
    const svg = svgElement("svg", { viewBox: "0 0 " + width + " " + (rowHeight * Math.max(rows.length, 1) + 30), class: "bar-chart", role: "img", "aria-label": metric + " per configuration" });
    if (!rows.length) { svg.appendChild(svgElement("text", { x: 10, y: 20 }, "No value to draw.")); return svg; }
    if (rows.length > 80) { svg.appendChild(svgElement("text", { x: 10, y: 20 }, rows.length + " bars are too many to draw: filter the results.")); return svg; }
    const high = Math.max.apply(null, rows.map(function (row) { return row[1].mean + (row[1].spread || 0); })) || 1;
    const sx = function (value) { return left + value / high * (width - left - right); };
    rows.forEach(function (row, index) {
      const y = 10 + index * rowHeight;
      const value = row[1];
      svg.appendChild(svgElement("text", { x: left - 6, y: y + 15, "text-anchor": "end" }, row[0].length > 48 ? row[0].slice(0, 47) + "…" : row[0]));
      svg.appendChild(svgElement("rect", { x: left, y: y + 3, width: Math.max(sx(value.mean) - left, 1), height: rowHeight - 8, class: "bar" }));
      if (value.spread) {
        const cy = y + rowHeight / 2;
        // A spread past zero is drawn to zero: the bars start there.
        const low = Math.max(value.mean - value.spread, 0);
        svg.appendChild(svgElement("line", { x1: sx(low), x2: sx(value.mean + value.spread), y1: cy, y2: cy, class: "error" }));
        [low, value.mean + value.spread].forEach(function (edge) {
          svg.appendChild(svgElement("line", { x1: sx(edge), x2: sx(edge), y1: cy - 5, y2: cy + 5, class: "error" }));
        });
      }
      svg.appendChild(svgElement("text", { x: sx(value.mean + (value.spread || 0)) + 6, y: y + 15 }, formatValue(value.mean, unit)));
    });
    return svg;
  }

  // ---------------------------------------------------------------- speed × quality
  // The report's view as bakeoff made it (its words, its frontier, its chart): the page shows
  // it and computes none of it, so the two never disagree. Every configuration, whatever the
  // filters: the frontier is drawn among all of them.
  function plain(text) { return text.replace(/`/g, ""); }
  // A chart the report drew, as an SVG element of the page. Embedded without its namespace
  // (the page names no address but this one, once).
  function embedded(chart, label) {
    const markup = chart.replace("<svg ", "<svg xmlns=\"" + SVG_NAMESPACE + "\" ");
    const parsed = new DOMParser().parseFromString(markup, "image/svg+xml").documentElement;
    const svg = document.importNode(parsed, true);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
    return svg;
  }

  // A search's answer per configuration, as the report words it, and its probes' chart.
  function searchSection(search) {
    const section = element("section", { id: "search" });
    section.appendChild(element("h2", { text: search.heading }));
    const list = element("ul", { class: "answers" });
    search.lines.forEach(function (line) { list.appendChild(element("li", { text: plain(line) })); });
    section.appendChild(list);
    if (search.chart) {
      section.appendChild(element("figure", { id: "search-chart" }, [embedded(search.chart, "the probes over the searched axis, the threshold dashed")]));
    } else if (search.chart_refused) {
      section.appendChild(element("p", { class: "note", text: "No chart of the probes: it could not be drawn (" + search.chart_refused + ")." }));
    }
    return section;
  }

  function qualitySection(quality) {
    const section = element("section", { id: "quality" });
    section.appendChild(element("h2", { text: quality.heading }));
    section.appendChild(element("p", { class: "note", text: plain(quality.caption) }));
    const head = element("tr", {}, quality.header.map(function (title) { return element("th", { scope: "col", text: title }); }));
    const body = element("tbody");
    // Figures to the right; words (the reference, a status, the frontier column) in italics.
    const words = /^(reference|failed|timed out|blocked|skipped|not run|n\/a)$/;
    quality.rows.forEach(function (row) {
      const kind = row.frontier ? "frontier" : row.reference ? "reference" : "";
      body.appendChild(element("tr", kind ? { class: kind } : {}, row.cells.map(function (text, index) {
        if (index === 0) return element("th", { scope: "row", text: text });
        if (quality.header[index] === "frontier") return element("td", { class: "place", text: text });
        return element("td", { class: words.test(text) ? "value status" : "value", text: text });
      })));
    });
    const table = element("table", { id: "quality-table" }, [element("thead", {}, [head]), body]);
    section.appendChild(element("div", { class: "scroll" }, [table]));
    quality.sentences.forEach(function (sentence) { section.appendChild(element("p", { text: plain(sentence) })); });
    if (quality.chart) {
      section.appendChild(element("figure", { id: "quality-chart" }, [embedded(quality.chart, "speed against mean KL divergence, the frontier drawn as a line")]));
    } else if (quality.chart_refused) {
      section.appendChild(element("p", { class: "note", text: "No chart of speed against mean KL divergence: it could not be drawn (" + quality.chart_refused + ")." }));
    }
    return section;
  }

  // ---------------------------------------------------------------- what did not give a result
  function problems(cells) {
    const failed = cells.filter(function (cell) { return cell.status !== "ok"; });
    const section = element("section", { id: "problems" });
    if (!failed.length) return section;
    section.appendChild(element("h2", { text: "Failed, timed out, blocked and skipped cells (" + failed.length + ")" }));
    const list = element("ul", { class: "cells" });
    failed.forEach(function (cell) {
      const button = element("button", { type: "button", "data-cell": cell.provenance.hash, text: cell.id + " on " + cell.host });
      list.appendChild(element("li", {}, [
        element("strong", { text: cell.status + ": " }), button, document.createTextNode(": " + (cell.reason || "no reason recorded")),
      ]));
    });
    section.appendChild(list);
    return section;
  }

  // ---------------------------------------------------------------- one cell's provenance
  function provenance(cell, experiment) {
    const facts = [];
    const add = function (term, value) { if (value !== null && value !== undefined && value !== "") facts.push([term, value]); };
    const p = cell.provenance;
    const host = data.hosts[cell.host] || {};
    add("cell", cell.id);
    add("hash", p.hash);
    add("status", cell.status + (cell.reason ? ": " + cell.reason : ""));
    add("measured", p.started_unix_ms ? new Date(p.started_unix_ms).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "");
    add("host", cell.host + " (" + [host.cpu, host.cpu_layout, host.gpus && "GPUs " + host.gpus, host.memory_bytes && formatValue(host.memory_bytes, "bytes"), host.kernel && "kernel " + host.kernel, host.os, host.firmware && "linux-firmware " + host.firmware].filter(Boolean).join(", ") + ")");
    add("toolbox", p.toolbox + " (" + p.runner + ")");
    add("image", p.image);
    add("image digest", p.digest);
    add("llama.cpp", p.llama_cpp);
    add("ran on", p.backend ? p.backend + (p.devices.length ? ": " + p.devices.join(", ") : "") : "");
    add("driver", p.driver);
    add("models", p.models.join(", "));
    if (cell.partial_rounds) add("rounds", cell.partial_rounds[0] + " of " + cell.partial_rounds[1] + " recorded: an interrupted run; bakeoff run measures the rest");
    add("current", cell.current ? "yes" : "no: the manifests have changed since (an earlier configuration's result)");
    const list = element("dl", { class: "facts" });
    facts.forEach(function (fact) {
      list.appendChild(element("dt", { text: fact[0] }));
      list.appendChild(element("dd", {}, [element("code", { text: String(fact[1]) })]));
    });
    const metrics = element("ul");
    Object.keys(cell.metrics).sort().forEach(function (name) {
      const value = cell.metrics[name];
      metrics.appendChild(element("li", { text: name + ": " + formatValue(value.mean, unitOf(experiment, name)) +
        (value.rounds ? " over " + value.rounds.length + " rounds" : "") }));
    });
    return element("section", { id: "provenance", tabindex: "-1" }, [
      element("h2", { text: "Provenance of " + cell.id }),
      list,
      element("h3", { text: "Metrics" }),
      metrics,
      element("p", {}, [element("a", { href: cell.file, text: "the record: " + cell.file })]),
    ]);
  }

  // ---------------------------------------------------------------- events
  controls.addEventListener("change", function (event) {
    const target = event.target;
    if (target.name === "hide") {
      const axis = target.getAttribute("data-axis");
      const hidden = state.hidden[axis] = (state.hidden[axis] || []).filter(function (value) { return value !== target.value; });
      if (!target.checked) hidden.push(target.value);
      if (!hidden.length) delete state.hidden[axis];
    } else if (target.name === "e") {
      state = { experiment: target.value, metric: "", rows: "", columns: null, baseline: "", chart: null, hidden: {}, cell: "" };
    } else {
      const key = { m: "metric", r: "rows", c: "columns", b: "baseline", x: "chart" }[target.name];
      if (key) state[key] = target.value;
      if (target.name === "c") state.baseline = "";
    }
    render();
  });
  view.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-cell]");
    if (!button) return;
    state.cell = button.getAttribute("data-cell");
    render();
    const panel = document.getElementById("provenance");
    if (panel) { panel.focus(); panel.scrollIntoView({ block: "nearest" }); }
  });
  window.addEventListener("hashchange", function () { state = readState(); render(); });
  try {
    render();
  } catch (error) {
    fail("error: " + (error && error.stack ? error.stack : error));
  }
})();
