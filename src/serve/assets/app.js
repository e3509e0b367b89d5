/*
 * gradscope serve: the dashboard.
 *
 * Plain JavaScript, no build step, no framework. It reads the JSON API of
 * docs/API.md and draws with uPlot 1.6.32 (MIT, vendored as uplot.js, see
 * LICENSE-uPlot.txt) and with canvases of its own (the gradient-flow map).
 *
 * Sections:
 *   1. Helpers: DOM building, number formatting, timing
 *   2. API: fetch JSON, errors as messages
 *   3. Routing: the URL after `#` holds each view's state
 *   4. Live updates: one EventSource on /api/events shared by the views
 *   5. Colours: viridis for depth and for the map, a palette for runs
 *   6. Charts: a small wrapper over uPlot (lines, bars, a step marker)
 *   7. The gradient-flow map (canvas heatmap, layers x probed steps)
 *   8. Runs list view
 *   9. Run view
 *  10. Compare view
 *  11. Sweep view
 *  12. Start
 *
 * Every view is a function (ctx, root, route) that fills `root`; `ctx`
 * collects what the view must undo when the route changes (charts, event
 * subscriptions, key handlers), and `ctx.alive` turns false then, so a
 * fetch that answers late draws nothing.
 */
'use strict';

(function () {

  // ==========================================================================
  // 1. Helpers
  // ==========================================================================

  /** Builds an element: h('a', {href: '#', class: 'x', onclick: fn}, 'text', child). */
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [key, value] of Object.entries(attrs)) {
        if (value == null || value === false) continue;
        if (key === 'class') node.className = value;
        else if (key === 'style' && typeof value === 'object') Object.assign(node.style, value);
        else if (key.startsWith('on') && typeof value === 'function') {
          node.addEventListener(key.slice(2), value);
        } else if (key === 'value') node.value = value;
        else node.setAttribute(key, value === true ? '' : String(value));
      }
    }
    for (const child of children.flat(Infinity)) {
      if (child == null || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  /** A number for people: 3 significant digits, exponents outside [1e-3, 1e4). */
  function fmt(v, digits = 3) {
    if (v == null || typeof v !== 'number' || !Number.isFinite(v)) return '–';
    const a = Math.abs(v);
    if (a === 0) return '0';
    if (a >= 1e4 || a < 1e-3) return v.toExponential(digits - 1).replace('e+', 'e');
    return String(Number(v.toPrecision(digits)));
  }

  const pct = (v) => (v == null || !Number.isFinite(v) ? '–' : (100 * v).toFixed(1) + '%');
  const int = (v) => (v == null ? '–' : Number(v).toLocaleString('en-US'));

  function fmtTime(seconds) {
    if (seconds == null) return '–';
    const d = new Date(seconds * 1000);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  /** Calls fn at most once per `ms`, the last call always running. */
  function throttle(fn, ms) {
    let last = 0;
    let timer = null;
    return function throttled() {
      const wait = last + ms - Date.now();
      if (wait <= 0) {
        last = Date.now();
        fn();
      } else if (!timer) {
        timer = setTimeout(() => {
          timer = null;
          last = Date.now();
          fn();
        }, wait);
      }
    };
  }

  function debounce(fn, ms) {
    let timer = null;
    return function debounced(...args) {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  /** The index of the value in a sorted array nearest `x`. */
  function nearestIndex(sorted, x) {
    if (!sorted.length) return -1;
    let lo = 0;
    let hi = sorted.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && Math.abs(sorted[lo - 1] - x) <= Math.abs(sorted[lo] - x)) return lo - 1;
    return lo;
  }

  const finite = (v) => typeof v === 'number' && Number.isFinite(v);
  /** For a log axis: positive finite values, null for the rest. */
  const positives = (arr) => arr.map((v) => (finite(v) && v > 0 ? v : null));
  const finites = (arr) => arr.map((v) => (finite(v) ? v : null));

  const sentence = (s) => s.replace(/_/g, ' ');

  async function copyText(text, button) {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'copied';
    } catch (_) {
      button.textContent = 'select and copy';
    }
    setTimeout(() => { button.textContent = 'copy'; }, 1500);
  }

  // ==========================================================================
  // 2. API
  // ==========================================================================

  /** GETs a JSON answer; a failure throws an Error whose message is the server's `error`. */
  async function api(path) {
    let res;
    try {
      res = await fetch(path, { headers: { Accept: 'application/json' } });
    } catch (e) {
      throw new Error(`cannot reach the gradscope server (${path}): ${e.message}`);
    }
    let body = null;
    try {
      body = await res.json();
    } catch (_) {
      body = null;
    }
    if (!res.ok) throw new Error((body && body.error) || `${path}: HTTP ${res.status}`);
    if (body == null) throw new Error(`${path}: the answer is not JSON`);
    return body;
  }

  /** A query string from the set values of `params` ('' when none). */
  function qs(params) {
    const parts = [];
    for (const [k, v] of Object.entries(params)) {
      if (v == null || v === '') continue;
      parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(v).replace(/%2C/g, ',')}`);
    }
    return parts.length ? '?' + parts.join('&') : '';
  }

  const errorBox = document.getElementById('error');

  function showError(err) {
    const message = err && err.message ? err.message : String(err);
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  function clearError() {
    errorBox.hidden = true;
    errorBox.textContent = '';
  }

  // ==========================================================================
  // 3. Routing
  // ==========================================================================

  /** `#/run/3?step=400` -> {view: 'run', id: '3', params: {step: '400'}}. */
  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, '');
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    const query = q < 0 ? '' : raw.slice(q + 1);
    const parts = path.split('/').filter(Boolean);
    const params = {};
    for (const [k, v] of new URLSearchParams(query)) params[k] = v;
    return { view: parts[0] || 'runs', id: parts[1], params };
  }

  function hashFor(view, id, params) {
    return '#/' + view + (id != null ? '/' + id : '') + qs(params || {});
  }

  /** Records a view's new state in the URL without a new history entry or a re-render. */
  function replaceHash(view, id, params) {
    const next = hashFor(view, id, params);
    if (next !== location.hash) history.replaceState(null, '', next);
  }

  const viewRoot = document.getElementById('view');
  let current = null;

  function newCtx() {
    return { alive: true, charts: [], cleanups: [], resizers: [] };
  }

  function destroyCtx(ctx) {
    ctx.alive = false;
    for (const chart of ctx.charts) chart.destroy();
    for (const undo of ctx.cleanups) undo();
  }

  function route() {
    if (current) destroyCtx(current);
    clearError();
    hideTooltip();
    const r = parseHash();
    const ctx = newCtx();
    current = ctx;
    viewRoot.replaceChildren();
    viewRoot.dataset.view = r.view;
    viewRoot.dataset.ready = '';
    for (const a of document.querySelectorAll('header nav a')) {
      a.classList.toggle('active', a.dataset.nav === r.view || (a.dataset.nav === 'runs' && r.view === 'run'));
    }
    const views = { runs: runsView, run: runView, compare: compareView, sweep: sweepView };
    const view = views[r.view];
    if (!view) {
      viewRoot.append(h('p', { class: 'empty' }, `No such view: ${r.view}. `, h('a', { href: '#/runs' }, 'Runs')));
      return;
    }
    Promise.resolve()
      .then(() => view(ctx, viewRoot, r))
      .then(() => { if (ctx.alive) viewRoot.dataset.ready = '1'; })
      .catch((e) => { if (ctx.alive) showError(e); });
  }

  window.addEventListener('hashchange', route);
  window.addEventListener('resize', debounce(() => {
    if (!current) return;
    for (const chart of current.charts) chart.resize();
    for (const fn of current.resizers) fn();
  }, 150));

  // ==========================================================================
  // 4. Live updates
  // ==========================================================================

  /** The store's progress from /api/events: run id -> {id, status, steps, total_steps}. */
  const live = {
    runs: new Map(),
    listeners: new Set(),
    start() {
      const indicator = document.querySelector('[data-testid=live]');
      const text = indicator.querySelector('.live-text');
      const set = (state, label) => {
        indicator.classList.toggle('on', state === 'on');
        indicator.classList.toggle('off', state === 'off');
        text.textContent = label;
      };
      const source = new EventSource('/api/events');
      source.addEventListener('open', () => set('on', 'live'));
      source.addEventListener('error', () => {
        if (source.readyState === EventSource.CLOSED) set('off', 'disconnected');
        else set('', 'reconnecting');
      });
      source.addEventListener('runs', (ev) => {
        let data;
        try {
          data = JSON.parse(ev.data);
        } catch (_) {
          return;
        }
        const previous = this.runs;
        this.runs = new Map((data.runs || []).map((r) => [r.id, r]));
        set('on', 'live');
        for (const fn of this.listeners) fn(this.runs, previous);
      });
    },
    /** Calls fn(runs, previous) on each event until the view goes. */
    subscribe(ctx, fn) {
      this.listeners.add(fn);
      ctx.cleanups.push(() => this.listeners.delete(fn));
    },
  };

  // ==========================================================================
  // 5. Colours
  // ==========================================================================

  const VIRIDIS = [
    [68, 1, 84], [72, 36, 117], [65, 68, 135], [53, 95, 141], [42, 120, 142], [33, 145, 140],
    [34, 168, 132], [68, 191, 112], [122, 209, 81], [189, 223, 38], [253, 231, 37],
  ];

  /** Viridis at t in [0, 1], as [r, g, b]. */
  function viridis(t) {
    const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
    const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
    const f = x - i;
    const a = VIRIDIS[i];
    const b = VIRIDIS[i + 1];
    return [0, 1, 2].map((k) => Math.round(a[k] + f * (b[k] - a[k])));
  }

  const rgb = (c, alpha) => (alpha == null ? `rgb(${c[0]},${c[1]},${c[2]})` : `rgba(${c[0]},${c[1]},${c[2]},${alpha})`);

  /** A layer's colour: dark at the input, light toward the output (yellow is too pale on white). */
  function layerColor(layer, count, alpha) {
    return rgb(viridis(count > 1 ? 0.88 * layer / (count - 1) : 0.4), alpha);
  }

  const RUN_COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
  const runColor = (i) => RUN_COLORS[i % RUN_COLORS.length];

  const CLASS_COLORS = {
    trains: '#9ad4ad', vanishes: '#9fb4ea', explodes: '#ef9a8f', diverges: '#f4b77e', stalls: '#cfcfcf',
  };
  const CLASS_NOTES = {
    trains: 'trains', vanishes: 'gradient vanishes', explodes: 'gradient explodes', diverges: 'loss diverges', stalls: 'stalls at chance',
  };

  // ==========================================================================
  // 6. Charts
  // ==========================================================================

  const AXIS = {
    font: '11px system-ui, sans-serif',
    labelFont: '11px system-ui, sans-serif',
    stroke: '#5f6b7a',
    grid: { stroke: '#eef1f4', width: 1 },
    ticks: { stroke: '#dde2e8', width: 1, size: 4 },
  };

  /** Tick labels: powers of ten on a log axis (every split when none is one), else fmt. */
  function tickValues(log) {
    return (u, splits) => {
      if (!log) return splits.map((v) => (v == null ? '' : fmt(v)));
      if (!splits.some(isDecade)) return splits.map((v) => (v == null ? '' : fmt(v, 2)));
      const keep = labelledDecades(splits);
      return splits.map((v) => (isDecade(v) && keep.has(Math.round(Math.log10(v))) ? `1e${Math.round(Math.log10(v))}` : ''));
    };
  }

  const isDecade = (v) => v != null && v > 0 && Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9;
  /** The powers of ten a log axis labels: every k-th, at most 6 of them. */
  function labelledDecades(splits) {
    const exps = splits.filter(isDecade).map((v) => Math.round(Math.log10(v)));
    const k = Math.max(1, Math.ceil(exps.length / 6));
    return new Set(exps.filter((e) => e % k === 0));
  }
  /** A log axis's ticks and grid lines at those powers of ten only (all splits when none is one). */
  function decades(u, splits) {
    if (!splits.some(isDecade)) return splits;
    const keep = labelledDecades(splits);
    return splits.map((v) => (isDecade(v) && keep.has(Math.round(Math.log10(v))) ? v : null));
  }
  /** Whole-number steps for an axis of layers. */
  const INTEGER_INCRS = [];
  for (let p = 1; p <= 1e9; p *= 10) INTEGER_INCRS.push(p, 2 * p, 5 * p);

  /** The object without its undefined fields (uPlot's option merge would copy them over its defaults). */
  function compact(obj) {
    const out = {};
    for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
    return out;
  }

  /** Draws a dashed vertical line at x = marker() (the slider's step) on a chart. */
  function markerPlugin(marker) {
    return {
      hooks: {
        draw: [(u) => {
          const x = marker();
          if (x == null) return;
          const cx = u.valToPos(x, 'x', true);
          const { left, top, width, height } = u.bbox;
          if (!(cx >= left && cx <= left + width)) return;
          const c = u.ctx;
          c.save();
          c.strokeStyle = 'rgba(192, 57, 43, 0.75)';
          c.lineWidth = Math.max(1, devicePixelRatio);
          c.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
          c.beginPath();
          c.moveTo(cx, top);
          c.lineTo(cx, top + height);
          c.stroke();
          c.restore();
        }],
      },
    };
  }

  /** Whether any series of uPlot data [x, ...ys] has a value to draw. */
  function hasValues(data, log) {
    return data.slice(1).some((ys) => ys.some((v) => finite(v) && (!log || v > 0)));
  }

  /**
   * A uPlot chart in `container`, registered with the view. spec: {xLabel,
   * yLabel, log, yRange, height, series: [{label, stroke, dash, width,
   * points, fill, bars}], data: [xs, ...ys], marker, legend}. Draws "no
   * data" instead when nothing is finite. setData(data) updates it.
   */
  class Chart {
    constructor(ctx, container, spec) {
      this.container = container;
      this.spec = spec;
      this.u = null;
      ctx.charts.push(this);
      this.setData(spec.data);
    }

    options() {
      const s = this.spec;
      return {
        width: Math.max(200, this.container.clientWidth),
        height: s.height || 190,
        scales: {
          x: { time: false },
          y: s.log ? { distr: 3, log: 10 } : compact({ range: s.yRange }),
        },
        axes: [
          Object.assign(compact({ label: s.xLabel, labelSize: 16, size: 32, incrs: s.xInteger ? INTEGER_INCRS : undefined }), AXIS),
          Object.assign(compact({ label: s.yLabel, labelSize: 16, size: 50, values: tickValues(s.log), filter: s.log ? decades : undefined }), AXIS,
            s.log ? { grid: Object.assign({ filter: decades }, AXIS.grid), ticks: Object.assign({ filter: decades }, AXIS.ticks) } : {}),
        ],
        series: [
          { label: s.xLabel || 'x', value: (u, v) => (v == null ? '–' : fmt(v)) },
          ...s.series.map((ser) => compact({
            label: ser.label,
            stroke: ser.stroke,
            width: ser.width || 1.5,
            dash: ser.dash,
            fill: ser.fill,
            paths: ser.bars ? uPlot.paths.bars({ size: [0.92, 40] }) : undefined,
            points: ser.points || { show: false },
            spanGaps: true,
            value: (u, v) => (v == null ? '–' : fmt(v)),
          })),
        ],
        legend: { show: s.legend !== false, live: true },
        cursor: { drag: { x: true, y: false, setScale: true }, points: { size: 5 } },
        plugins: s.marker ? [markerPlugin(s.marker)] : [],
      };
    }

    setData(data) {
      this.data = data;
      if (!hasValues(data, this.spec.log)) {
        this.destroy();
        this.container.replaceChildren(h('div', { class: 'empty small' }, this.spec.empty || 'no data'));
        return;
      }
      if (this.u && this.u.series.length === data.length) {
        this.u.setData(data);
        return;
      }
      this.destroy();
      this.container.replaceChildren();
      this.u = new uPlot(this.options(), data, this.container);
    }

    redraw() {
      if (this.u) this.u.redraw(false);
    }

    resize() {
      if (this.u) this.u.setSize({ width: Math.max(200, this.container.clientWidth), height: this.u.height });
    }

    destroy() {
      if (this.u) this.u.destroy();
      this.u = null;
    }
  }

  function panel(title, note, ...body) {
    return h('section', { class: 'panel' },
      h('div', { class: 'panel-head' }, h('h2', null, title), note ? h('span', { class: 'note' }, note) : null),
      ...body);
  }

  // 2nd, 3rd, 4th, 11th, 21st: the stride of a thinned series, in words.
  function ordinal(n) {
    const teen = n % 100 >= 11 && n % 100 <= 13;
    const suffix = teen ? "th" : ({ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th");
    return `${n}${suffix}`;
  }

  function thinnedNote(answer) {
    return answer && answer.stride > 1 ? `every ${ordinal(answer.stride)} of ${int(answer.rows)} rows` : null;
  }

  // ==========================================================================
  // 7. The gradient-flow map
  // ==========================================================================

  /** The fields the map, the depth profile and the compare view can show. */
  const FIELDS = [
    { name: 'pre_grad_rms', label: 'dL/dz RMS (backpropagated delta)', log: true },
    { name: 'weight_grad_rms', label: 'dL/dW RMS (weight gradient)', log: true },
    { name: 'out_grad_rms', label: 'dL/dh RMS (gradient at the output)', log: true },
    { name: 'update_ratio', label: 'update ratio |ΔW| / |W|', log: true },
    { name: 'saturated', label: 'saturated units (fraction)', log: false },
    { name: 'dead', label: 'dead units (fraction)', log: false },
    { name: 'grad_data_ratio', label: 'gradient / weight |dL/dW| / |W|', log: true },
  ];
  const fieldInfo = (name) => FIELDS.find((f) => f.name === name) || FIELDS[0];

  function fieldSelect(value, onChange) {
    return h('select', { 'data-testid': 'field-select', onchange: (e) => onChange(e.target.value) },
      FIELDS.map((f) => h('option', { value: f.name, selected: f.name === value }, `${f.name}: ${f.label}`)));
  }

  const tooltip = document.getElementById('tooltip');
  function showTooltip(x, y, text) {
    tooltip.textContent = text;
    tooltip.hidden = false;
    tooltip.style.left = `${x + 12}px`;
    tooltip.style.top = `${y + 12}px`;
  }
  function hideTooltip() {
    tooltip.hidden = true;
  }

  /**
   * A heatmap of one field: a row per layer (input at the bottom), a column
   * per probed step (equally wide, whatever the spacing of the steps),
   * colour = log10 of the value (fractions: the value). A dashed line marks
   * the slider's step; marks left of the rows show the chosen layers; a
   * highlighted finding is outlined. Clicking a cell moves the slider to its
   * step, clicking a row's label chooses its layer.
   */
  class FlowMap {
    constructor(container, { onPickStep, onToggleLayer }) {
      this.canvas = h('canvas', { 'data-testid': 'flow-map' });
      this.legend = h('div', { class: 'legend-bar' });
      container.append(h('div', { class: 'flow-wrap' }, this.canvas), this.legend);
      this.onPickStep = onPickStep;
      this.onToggleLayer = onToggleLayer;
      this.steps = [];
      this.layers = [];
      this.stepIndex = 0;
      this.selected = new Set();
      this.highlight = null;
      this.margin = { left: 62, right: 8, top: 6, bottom: 24 };
      this.canvas.addEventListener('mousemove', (e) => this.hover(e));
      this.canvas.addEventListener('mouseleave', hideTooltip);
      this.canvas.addEventListener('click', (e) => this.click(e));
    }

    /** steps: probed steps; layers: [{layer, path, values}]; field: a FIELDS entry. */
    setData(steps, layers, field) {
      this.steps = steps;
      this.layers = layers;
      this.field = field;
      const values = [];
      for (const l of layers) {
        for (const v of l.values) {
          const t = this.transform(v);
          if (t != null) values.push(t);
        }
      }
      let lo = values.length ? Math.min(...values) : 0;
      let hi = values.length ? Math.max(...values) : 1;
      if (!field.log) {
        lo = 0;
        hi = Math.max(hi, 1e-3);
      }
      if (hi - lo < 1e-9) {
        lo -= 0.5;
        hi += 0.5;
      }
      this.range = [lo, hi];
      this.canvas.dataset.field = field.name;
      this.canvas.dataset.rows = layers.length;
      this.canvas.dataset.cols = steps.length;
      this.canvas.dataset.lastStep = steps.length ? steps[steps.length - 1] : '';
      this.paintImage();
      this.draw();
      this.drawLegend();
    }

    transform(v) {
      if (!finite(v)) return null;
      if (!this.field.log) return v;
      return v > 0 ? Math.log10(v) : null;
    }

    /** One pixel per (step, layer) in an offscreen canvas, scaled up when drawn. */
    paintImage() {
      const cols = this.steps.length;
      const rows = this.layers.length;
      this.image = null;
      if (!cols || !rows) return;
      const off = document.createElement('canvas');
      off.width = cols;
      off.height = rows;
      const g = off.getContext('2d');
      const img = g.createImageData(cols, rows);
      const [lo, hi] = this.range;
      for (let r = 0; r < rows; r++) {
        const layer = this.layers[rows - 1 - r]; // input at the bottom
        for (let c = 0; c < cols; c++) {
          const v = layer.values[c];
          let col;
          if (!finite(v)) col = [229, 231, 235]; // missing
          else if (this.field.log && v <= 0) col = [0, 0, 0]; // exactly zero: below any scale
          else col = viridis((this.transform(v) - lo) / (hi - lo));
          const k = 4 * (r * cols + c);
          img.data[k] = col[0];
          img.data[k + 1] = col[1];
          img.data[k + 2] = col[2];
          img.data[k + 3] = 255;
        }
      }
      g.putImageData(img, 0, 0);
      this.image = off;
    }

    geometry() {
      const m = this.margin;
      const width = Math.max(300, this.canvas.parentElement.clientWidth);
      const rows = Math.max(1, this.layers.length);
      const plotH = Math.min(380, Math.max(230, rows * 16));
      const height = plotH + m.top + m.bottom;
      const plotW = width - m.left - m.right;
      return { width, height, plotW, plotH, rowH: plotH / rows, colW: plotW / Math.max(1, this.steps.length) };
    }

    draw() {
      const g = this.geometry();
      const dpr = window.devicePixelRatio || 1;
      const cv = this.canvas;
      cv.width = Math.round(g.width * dpr);
      cv.height = Math.round(g.height * dpr);
      cv.style.height = `${g.height}px`;
      const c = cv.getContext('2d');
      c.setTransform(dpr, 0, 0, dpr, 0, 0);
      c.clearRect(0, 0, g.width, g.height);
      const m = this.margin;
      c.font = '11px system-ui, sans-serif';
      if (!this.image) {
        c.fillStyle = '#5f6b7a';
        c.fillText('no probed steps yet', m.left, m.top + 20);
        return;
      }
      c.imageSmoothingEnabled = false;
      c.drawImage(this.image, m.left, m.top, g.plotW, g.plotH);
      const rows = this.layers.length;
      const yOf = (layer) => m.top + (rows - 1 - layer) * g.rowH;
      // Row labels, input at the bottom.
      c.textBaseline = 'middle';
      c.textAlign = 'right';
      const every = Math.ceil(rows / Math.max(1, Math.floor(g.plotH / 13)));
      for (let l = 0; l < rows; l++) {
        const chosen = this.selected.has(l);
        if (l % every !== 0 && l !== rows - 1 && !chosen) continue;
        const tag = l === 0 ? ' in' : l === rows - 1 ? ' out' : '';
        c.fillStyle = chosen ? '#1d2430' : '#5f6b7a';
        c.font = chosen ? '600 11px system-ui, sans-serif' : '11px system-ui, sans-serif';
        c.fillText(`L${l}${tag}`, m.left - 8, yOf(l) + g.rowH / 2);
      }
      for (const l of this.selected) {
        if (l >= rows) continue;
        c.fillStyle = layerColor(l, rows);
        c.fillRect(m.left - 5, yOf(l) + 1, 4, Math.max(2, g.rowH - 2));
      }
      // Step ticks.
      c.textBaseline = 'top';
      c.textAlign = 'center';
      c.fillStyle = '#5f6b7a';
      c.font = '11px system-ui, sans-serif';
      const cols = this.steps.length;
      const ticks = Math.max(2, Math.floor(g.plotW / 90));
      for (let t = 0; t < ticks; t++) {
        const i = Math.round((t * (cols - 1)) / (ticks - 1));
        const x = m.left + (i + 0.5) * g.colW;
        c.fillRect(x, m.top + g.plotH, 1, 3);
        c.fillText(String(this.steps[i]), Math.min(Math.max(x, m.left + 10), g.width - 14), m.top + g.plotH + 5);
      }
      // A finding's place: its layers (all when it names none) over its steps.
      if (this.highlight) {
        const hs = this.highlight.steps.length ? this.highlight.steps : [this.steps[0], this.steps[cols - 1]];
        const i0 = nearestIndex(this.steps, Math.min(...hs));
        const i1 = nearestIndex(this.steps, Math.max(...hs));
        const spans = [];
        if (!this.highlight.layers.length) spans.push([0, rows - 1]);
        for (const l of [...this.highlight.layers].sort((a, b) => a - b)) {
          const last = spans[spans.length - 1];
          if (last && l === last[1] + 1) last[1] = l;
          else spans.push([l, l]);
        }
        c.strokeStyle = '#ff7a00';
        c.lineWidth = 2;
        for (const [a, b] of spans) {
          if (a >= rows) continue;
          const top = Math.min(b, rows - 1);
          const x = m.left + i0 * g.colW;
          c.strokeRect(x + 1, yOf(top) + 1, Math.max(3, (i1 - i0 + 1) * g.colW) - 2, (top - a + 1) * g.rowH - 2);
        }
      }
      // The slider's step.
      if (this.stepIndex >= 0 && this.stepIndex < cols) {
        const x = m.left + (this.stepIndex + 0.5) * g.colW;
        c.strokeStyle = '#e74c3c';
        c.lineWidth = 1.5;
        c.setLineDash([4, 3]);
        c.beginPath();
        c.moveTo(x, m.top);
        c.lineTo(x, m.top + g.plotH);
        c.stroke();
        c.setLineDash([]);
      }
      this.geom = g;
    }

    drawLegend() {
      const [lo, hi] = this.range;
      const bar = h('canvas', { width: 220, height: 10 });
      const g = bar.getContext('2d');
      for (let x = 0; x < 220; x++) {
        g.fillStyle = rgb(viridis(x / 219));
        g.fillRect(x, 0, 1, 10);
      }
      const end = (t) => (this.field.log ? fmt(10 ** t) : fmt(t));
      this.legend.replaceChildren(
        h('span', null, this.field.log ? `colour: log10 ${this.field.name}` : `colour: ${this.field.name}`),
        h('span', { class: 'num' }, end(lo)), bar, h('span', { class: 'num' }, end(hi)),
        this.field.log ? h('span', null, h('span', { class: 'swatch', style: { background: '#000' } }), 'exactly 0') : null,
        h('span', null, h('span', { class: 'swatch', style: { background: '#e5e7eb' } }), 'not recorded'),
      );
    }

    /** (column, layer) under a mouse event, or null; layer -1 .. in the label margin. */
    cellAt(e) {
      if (!this.geom || !this.steps.length) return null;
      const rect = this.canvas.getBoundingClientRect();
      const x = e.clientX - rect.left;
      const y = e.clientY - rect.top;
      const m = this.margin;
      const g = this.geom;
      const rows = this.layers.length;
      const r = Math.floor((y - m.top) / g.rowH);
      if (r < 0 || r >= rows) return null;
      const layer = rows - 1 - r;
      if (x < m.left) return { col: null, layer };
      const col = Math.floor((x - m.left) / g.colW);
      if (col < 0 || col >= this.steps.length) return null;
      return { col, layer };
    }

    hover(e) {
      const cell = this.cellAt(e);
      if (!cell) return hideTooltip();
      const l = this.layers[cell.layer];
      if (cell.col == null) return showTooltip(e.clientX, e.clientY, `layer ${l.layer} (${l.path}): click to choose`);
      const v = l.values[cell.col];
      showTooltip(e.clientX, e.clientY, `layer ${l.layer} (${l.path})\nstep ${this.steps[cell.col]}\n${this.field.name} = ${fmt(v)}`);
    }

    click(e) {
      const cell = this.cellAt(e);
      if (!cell) return;
      if (cell.col == null) this.onToggleLayer(cell.layer);
      else this.onPickStep(cell.col);
    }

    setStepIndex(i) {
      this.stepIndex = i;
      this.draw();
    }

    setSelected(set) {
      this.selected = set;
      this.draw();
    }

    setHighlight(finding) {
      this.highlight = finding;
      this.canvas.dataset.highlight = finding ? finding.kind : '';
      this.draw();
    }
  }

  // ==========================================================================
  // 8. Runs list
  // ==========================================================================

  const STATUSES = ['running', 'finished', 'diverged', 'failed', 'interrupted'];

  function statusBadge(status) {
    return h('span', { class: `badge ${status}`, 'data-testid': 'run-status' }, status);
  }

  function classBadge(cls) {
    return cls ? h('span', { class: `badge cls-${cls}`, title: CLASS_NOTES[cls] || cls }, cls) : null;
  }

  function cellText(cell) {
    if (!cell) return '';
    return Object.entries(cell).map(([k, v]) => `${k.replace(/^model\./, '')}=${v}`).join(', ');
  }

  function progressBar(steps, total) {
    const frac = total > 0 ? Math.min(1, steps / total) : 0;
    return h('span', { class: `progress${frac >= 1 ? ' done' : ''}` }, h('span', { style: { width: `${(100 * frac).toFixed(1)}%` } }));
  }

  async function runsView(ctx, root, r) {
    const filters = { status: r.params.status || '', sweep: r.params.sweep || '', name: r.params.name || '' };
    const picked = new Set();
    const rows = new Map(); // run id -> {tr, steps, bar, status, run}
    let loadSeq = 0;
    let signature = '';

    const statusSel = h('select', { 'data-testid': 'filter-status', onchange: (e) => setFilter('status', e.target.value) },
      h('option', { value: '' }, 'any status'),
      STATUSES.map((s) => h('option', { value: s, selected: s === filters.status }, s)));
    const sweepSel = h('select', { 'data-testid': 'filter-sweep', onchange: (e) => setFilter('sweep', e.target.value) },
      h('option', { value: '' }, 'any sweep'));
    const nameIn = h('input', {
      type: 'search', placeholder: 'name contains…', value: filters.name, 'data-testid': 'filter-name',
      oninput: debounce((e) => setFilter('name', e.target.value.trim()), 250),
    });
    const compareBtn = h('button', {
      class: 'primary', disabled: true, 'data-testid': 'compare-selected',
      onclick: () => { location.hash = hashFor('compare', null, { runs: [...picked].join(',') }); },
    }, 'Compare selected');
    const tableBox = h('div');
    const sweepsBox = h('div');
    root.append(
      h('div', { class: 'row' }, h('h1', null, 'Runs'), h('span', { class: 'spacer' }),
        h('label', { class: 'ctl' }, 'status', statusSel),
        h('label', { class: 'ctl' }, 'sweep', sweepSel),
        nameIn, compareBtn),
      h('section', { class: 'panel', style: { marginTop: '10px', padding: '0' } }, tableBox),
      sweepsBox,
    );

    function setFilter(key, value) {
      filters[key] = value;
      replaceHash('runs', null, filters);
      load().catch(showError);
    }

    function updateCompare() {
      compareBtn.disabled = picked.size < 1;
      compareBtn.textContent = picked.size ? `Compare ${picked.size} selected` : 'Compare selected';
    }

    function renderRow(run) {
      const check = h('input', {
        type: 'checkbox', 'data-testid': 'run-pick', checked: picked.has(run.id), title: 'pick for compare',
        onchange: (e) => { if (e.target.checked) picked.add(run.id); else picked.delete(run.id); updateCompare(); },
      });
      const steps = h('span', { 'data-testid': 'run-steps' }, String(run.steps));
      const bar = progressBar(run.steps, run.total_steps);
      const status = h('td', null, statusBadge(run.status));
      const tr = h('tr', {
        class: 'clickable', 'data-testid': 'run-row', 'data-run-id': run.id, 'data-run-name': run.name,
        onclick: (e) => {
          if (e.target.closest('input, a, button')) return;
          location.hash = hashFor('run', run.id, {});
        },
      },
      h('td', null, check),
      h('td', { class: 'num' }, String(run.id)),
      h('td', null, h('a', { href: hashFor('run', run.id, {}) }, run.name)),
      status,
      h('td', { class: 'num' }, steps, h('span', { class: 'muted' }, ` / ${int(run.total_steps)}`), bar),
      h('td', { class: 'num' }, fmt(run.last_loss)),
      h('td', { class: 'num' }, pct(run.test_accuracy)),
      h('td', null, run.worst ? h('span', { class: `badge ${run.worst}` }, `${run.findings} · ${run.worst}`) : h('span', { class: 'muted' }, run.findings ? String(run.findings) : '–')),
      h('td', null, run.sweep_id != null ? h('a', { href: hashFor('sweep', run.sweep_id, {}) }, `sweep ${run.sweep_id}`) : '',
        run.cell ? h('span', { class: 'muted small' }, ` ${cellText(run.cell)}`) : ''),
      h('td', null, classBadge(run.class)),
      h('td', { class: 'muted small' }, fmtTime(run.created_at)));
      rows.set(run.id, { tr, steps, bar, status, run });
      return tr;
    }

    function renderTable(runs) {
      rows.clear();
      if (!runs.length) {
        const filtered = filters.status || filters.sweep || filters.name;
        tableBox.replaceChildren(h('div', { class: 'empty', 'data-testid': 'runs-empty', style: { padding: '16px' } }, filtered
          ? 'No run matches these filters.'
          : ['No runs yet: ', h('code', null, 'gradscope train examples/sigmoid-20.toml'), ' (or ',
            h('code', null, 'gradscope demo'), ') records runs into this store; they appear here as they train.']));
        return;
      }
      tableBox.replaceChildren(h('table', { class: 'list', 'data-testid': 'runs-table' },
        h('thead', null, h('tr', null,
          h('th', null, ''), h('th', { class: 'num' }, 'id'), h('th', null, 'name'), h('th', null, 'status'),
          h('th', { class: 'num' }, 'steps'), h('th', { class: 'num' }, 'loss'), h('th', { class: 'num' }, 'test acc'),
          h('th', null, 'findings'), h('th', null, 'sweep'), h('th', null, 'class'), h('th', null, 'created'))),
        h('tbody', null, runs.map(renderRow))));
    }

    async function load() {
      const seq = ++loadSeq;
      const data = await api('/api/runs' + qs(filters));
      if (!ctx.alive || seq !== loadSeq) return;
      clearError();
      renderTable(data.runs);
    }

    async function loadSweeps() {
      const data = await api('/api/sweeps');
      if (!ctx.alive) return;
      for (const s of data.sweeps) {
        sweepSel.append(h('option', { value: s.id, selected: String(s.id) === filters.sweep }, `${s.id}: ${s.name}`));
      }
      if (!data.sweeps.length) return;
      sweepsBox.replaceChildren(h('section', { class: 'panel', style: { marginTop: '10px' } },
        h('h2', null, 'Sweeps'),
        h('table', { class: 'list', 'data-testid': 'sweeps-table' },
          h('thead', null, h('tr', null, h('th', { class: 'num' }, 'id'), h('th', null, 'name'), h('th', { class: 'num' }, 'runs'), h('th', null, 'created'))),
          h('tbody', null, data.sweeps.map((s) => h('tr', { 'data-testid': 'sweep-row' },
            h('td', { class: 'num' }, String(s.id)),
            h('td', null, h('a', { href: hashFor('sweep', s.id, {}) }, s.name)),
            h('td', { class: 'num' }, String(s.runs)),
            h('td', { class: 'muted small' }, fmtTime(s.created_at))))))));
    }

    // Live: steps and status in place; a new, removed or changed run reloads the list.
    const reload = throttle(() => { if (ctx.alive) load().catch(showError); }, 1000);
    live.subscribe(ctx, (runs) => {
      const sig = [...runs.values()].map((p) => `${p.id}:${p.status}:${p.class || ''}`).join(',');
      if (signature && sig !== signature) reload();
      signature = sig;
      for (const [id, p] of runs) {
        const row = rows.get(id);
        if (!row) continue;
        row.steps.textContent = String(p.steps);
        row.bar.replaceWith(row.bar = progressBar(p.steps, p.total_steps));
        if (p.status !== row.run.status) {
          row.status.replaceChildren(statusBadge(p.status));
          row.run.status = p.status;
        }
      }
    });

    signature = [...live.runs.values()].map((p) => `${p.id}:${p.status}:${p.class || ''}`).join(',');
    await Promise.all([load(), loadSweeps()]);
  }

  // ==========================================================================
  // 9. Run view
  // ==========================================================================

  const LAYER_FIELDS = FIELDS.map((f) => f.name);
  /** The through-time figures offered, and those drawn on a log axis. */
  const TT_FIGURES = ['rms', 'l2', 'max_abs', 'std', 'mean', 'zero_frac'];
  const TT_LOG = new Set(['rms', 'l2', 'max_abs', 'std']);
  const LAYER_POINTS = 800;
  const STEP_POINTS = 1000;

  /** The layers a per-layer chart shows by default: all, or 8 spread from input to output. */
  function spreadLayers(count, most) {
    if (count <= most) return [...Array(count).keys()];
    const out = new Set();
    for (let i = 0; i < most; i++) out.add(Math.round((i * (count - 1)) / (most - 1)));
    return [...out];
  }

  async function runView(ctx, root, r) {
    const id = Number(r.id);
    if (!Number.isInteger(id)) throw new Error(`not a run id: ${r.id}`);
    const st = {
      field: fieldInfo(r.params.field).name,
      layers: new Set((r.params.layers || '').split(',').filter((s) => /^\d+$/.test(s)).map(Number)),
      idx: -1,
      tensor: ['pre_grad', 'weight_grad', 'output'].includes(r.params.hist) ? r.params.hist : 'pre_grad',
      highlight: null,
    };
    const wantedStep = r.params.step != null && /^\d+$/.test(r.params.step) ? Number(r.params.step) : null;

    let info = await api(`/api/runs/${id}`);
    if (!ctx.alive) return;
    let series = await fetchSeries();
    if (!ctx.alive) return;

    async function fetchSeries() {
      const [layers, steps, evals] = await Promise.all([
        api(`/api/runs/${id}/layers` + qs({ fields: LAYER_FIELDS.join(','), points: LAYER_POINTS })),
        api(`/api/runs/${id}/steps` + qs({ points: STEP_POINTS })),
        api(`/api/runs/${id}/evals` + qs({ points: STEP_POINTS })),
      ]);
      return { layers, steps, evals };
    }

    const layerCount = () => series.layers.layers.length;
    const probed = () => series.layers.step;
    const stepAt = (i) => probed()[i];
    const shownLayers = () => (st.layers.size ? [...st.layers].filter((l) => l < layerCount()).sort((a, b) => a - b) : spreadLayers(layerCount(), 8));
    const histLayers = () => (st.layers.size ? shownLayers() : spreadLayers(layerCount(), 3));

    function saveUrl() {
      replaceHash('run', id, {
        step: st.idx >= 0 ? stepAt(st.idx) : null,
        layers: st.layers.size ? [...st.layers].sort((a, b) => a - b).join(',') : null,
        field: st.field !== 'pre_grad_rms' ? st.field : null,
        hist: st.tensor !== 'pre_grad' ? st.tensor : null,
      });
    }

    // ---- header ----
    const liveSteps = h('span', { 'data-testid': 'run-live-steps' });
    const statusBox = h('span');
    const facts = h('span', { class: 'facts' });
    function renderHeader() {
      const run = info.run;
      statusBox.replaceChildren(statusBadge(run.status));
      liveSteps.textContent = String(run.steps);
      const sum = info.summary || {};
      facts.replaceChildren(
        'steps ', h('b', null, liveSteps), ` / ${int(run.total_steps)}`,
        ' · loss ', h('b', null, fmt(run.last_loss)),
        ' · test accuracy ', h('b', null, pct(run.test_accuracy != null ? run.test_accuracy : sum.test_accuracy)),
        ' · ', `${layerCount()} layers, ${int(info.probed_steps)} probed steps`,
        run.sweep_id != null ? [' · ', h('a', { href: hashFor('sweep', run.sweep_id, {}) }, `sweep ${run.sweep_id}`), run.cell ? ` (${cellText(run.cell)})` : ''] : '',
        run.class ? [' ', classBadge(run.class)] : '',
        ' · ', fmtTime(run.created_at));
      errorLine.replaceChildren(info.error ? h('div', { class: 'error', style: { margin: '6px 0 0' } }, `the run stopped: ${info.error}`) : '');
    }
    const errorLine = h('div');
    const specPre = h('pre', { 'data-testid': 'run-spec' }, info.spec || '');
    root.append(h('section', { class: 'panel' },
      h('div', { class: 'run-head' },
        h('h1', { 'data-testid': 'run-name' }, `${info.run.name} `, h('span', { class: 'muted' }, `#${id}`)),
        statusBox, facts, h('span', { class: 'spacer' }),
        h('a', { href: hashFor('compare', null, { runs: String(id) }) }, 'compare with…')),
      errorLine,
      h('details', { class: 'spec' }, h('summary', null, 'spec'), specPre)));

    // ---- map and depth profile ----
    const mapBox = h('div');
    const mapPanel = panel('Gradient-flow map', 'rows: layers (input at the bottom) · columns: probed steps · click: step / layer',
      h('div', { class: 'row', style: { marginBottom: '6px' } },
        h('label', { class: 'ctl' }, 'field', fieldSelect(st.field, (f) => { st.field = f; saveUrl(); drawField(); }))),
      mapBox);
    const flow = new FlowMap(mapBox, {
      onPickStep: (i) => setIdx(i),
      onToggleLayer: (l) => toggleLayer(l),
    });

    const slider = h('input', { type: 'range', min: 0, max: 0, value: 0, step: 1, 'data-testid': 'step-slider', 'aria-label': 'probed step' });
    slider.addEventListener('input', () => setIdx(Number(slider.value)));
    const stepLabel = h('span', { class: 'step-label', 'data-testid': 'step-label' });
    const profileBox = h('div', { class: 'chart', 'data-testid': 'depth-profile' });
    const chips = h('div', { class: 'layer-chips', 'data-testid': 'layer-chips' });
    const histBox = h('div', { class: 'chart', 'data-testid': 'histograms' });
    const histNote = h('span', { class: 'note' });
    const tensorSel = h('select', { onchange: (e) => { st.tensor = e.target.value; saveUrl(); loadHistograms(true); } },
      ['pre_grad', 'weight_grad', 'output'].map((t) => h('option', { value: t, selected: t === st.tensor }, t)));
    const profilePanel = panel('Depth profile', '← → move the step (Shift: 10)',
      h('div', { class: 'step-row' }, stepLabel, slider),
      profileBox,
      h('div', { class: 'row small muted' }, 'layers', chips),
      h('div', { class: 'panel-head', style: { marginTop: '8px' } }, h('h2', null, 'Histograms of log10|v|'), histNote, h('span', { class: 'spacer' }), tensorSel),
      histBox);
    // ---- findings, under the map they point into ----
    const findingsBox = h('div', { class: 'findings', 'data-testid': 'findings' });
    const findingsPanel = panel('Findings', 'from diagnosis, when the run ends', findingsBox);
    root.append(h('div', { class: 'grid-map' }, h('div', { class: 'stack' }, mapPanel, findingsPanel), profilePanel));

    // ---- through time (recurrent and convolutional runs) ----
    const ttBox = h('div', { class: 'chart', 'data-testid': 'through-time' });
    const ttNote = h('span', { class: 'note' });
    const ttChips = h('div', { class: 'layer-chips' });
    const ttTensors = [...new Set((info.through_time || []).map((t) => t.tensor))];
    // Gradients through time by default: the vanishing of the recurrent gradient.
    const ttShown = new Set(ttTensors.filter((t) => t.endsWith('_grad')));
    if (!ttShown.size && ttTensors.length) ttShown.add(ttTensors[0]);
    let ttFigure = 'rms';
    let ttData = null;
    function renderTtChips() {
      ttChips.replaceChildren(...ttTensors.map((t, i) => h('span', {
        class: `chip${ttShown.has(t) ? ' on' : ''}`, style: ttShown.has(t) ? { background: runColor(i) } : null,
        onclick: () => {
          if (ttShown.has(t)) ttShown.delete(t);
          else ttShown.add(t);
          renderTtChips();
          drawThroughTime();
        },
      }, t)));
    }
    if (ttTensors.length) {
      const figSel = h('select', { onchange: (e) => { ttFigure = e.target.value; loadThroughTime(true); } },
        TT_FIGURES.map((f) => h('option', { value: f }, f)));
      renderTtChips();
      root.append(h('div', { style: { marginTop: '10px' } }, panel('Through time', null,
        h('div', { class: 'panel-head' }, ttNote, h('span', { class: 'spacer' }), h('label', { class: 'ctl' }, 'figure', figSel)),
        h('div', { class: 'row small muted' }, 'tensors', ttChips),
        ttBox)));
    }

    // ---- curves ----
    const lossBox = h('div', { class: 'chart', 'data-testid': 'loss-chart' });
    const accBox = h('div', { class: 'chart', 'data-testid': 'accuracy-chart' });
    const satBox = h('div', { class: 'chart', 'data-testid': 'saturated-chart' });
    const deadBox = h('div', { class: 'chart', 'data-testid': 'dead-chart' });
    const updBox = h('div', { class: 'chart', 'data-testid': 'update-chart' });
    const gdrBox = h('div', { class: 'chart', 'data-testid': 'grad-data-chart' });
    const stepsNote = h('span', { class: 'note' });
    const layersNote = h('span', { class: 'note' });
    root.append(
      h('div', { class: 'grid2' },
        panel('Loss', null, stepsNote, lossBox),
        panel('Accuracy', null, accBox)),
      h('div', { class: 'grid2' },
        panel('Saturated units', 'fraction of a layer\'s units in the flat tails of the activation', layersNote, satBox),
        panel('Dead units', 'fraction of a layer\'s units inactive on the whole batch', deadBox)),
      h('div', { class: 'grid2' },
        panel('Update ratio |ΔW| / |W|', 'per layer, log scale; about 1e-3 is healthy', updBox),
        panel('Gradient / weight |dL/dW| / |W|', 'per layer, log scale', gdrBox)),
    );

    // ---- charts ----
    const marker = () => (st.idx >= 0 ? stepAt(st.idx) : null);
    const charts = {};

    function layerSeriesSpec(field, log, yRange) {
      const shown = shownLayers();
      const L = layerCount();
      return {
        xLabel: 'step', xInteger: true, yLabel: field, log, yRange, marker,
        legend: shown.length <= 10,
        empty: `${field}: not recorded for this run (or no probed step yet)`,
        series: shown.map((l) => ({ label: `L${l}`, stroke: layerColor(l, L) })),
        data: [probed(), ...shown.map((l) => {
          const v = series.layers.layers[l][field];
          return log ? positives(v) : finites(v);
        })],
      };
    }

    function curveData() {
      const s = series.steps;
      const e = series.evals;
      return {
        loss: uPlot.join([[s.step, finites(s.loss)], [e.step, finites(e.train_loss), finites(e.test_loss)]]),
        acc: uPlot.join([[s.step, finites(s.accuracy)], [e.step, finites(e.train_accuracy), finites(e.test_accuracy)]]),
      };
    }

    function drawCurves() {
      stepsNote.textContent = thinnedNote(series.steps) || '';
      layersNote.textContent = thinnedNote(series.layers) || '';
      const evalPoints = { show: true, size: 5 };
      const d = curveData();
      const lossSpec = {
        xLabel: 'step', xInteger: true, yLabel: 'loss', marker, data: d.loss,
        series: [
          { label: 'batch', stroke: 'rgba(37, 99, 176, 0.55)', width: 1 },
          { label: 'train (eval)', stroke: '#2f855a', points: evalPoints },
          { label: 'held-out', stroke: '#c0392b', points: evalPoints },
        ],
      };
      const accSpec = {
        xLabel: 'step', xInteger: true, yLabel: 'accuracy', marker, data: d.acc, yRange: [0, 1],
        empty: 'no accuracy recorded (a regression task has none)',
        series: [
          { label: 'batch', stroke: 'rgba(37, 99, 176, 0.55)', width: 1 },
          { label: 'train (eval)', stroke: '#2f855a', points: evalPoints },
          { label: 'held-out', stroke: '#c0392b', points: evalPoints },
        ],
      };
      const specs = {
        loss: [lossBox, lossSpec],
        acc: [accBox, accSpec],
        sat: [satBox, layerSeriesSpec('saturated', false, [0, 1])],
        dead: [deadBox, layerSeriesSpec('dead', false, [0, 1])],
        upd: [updBox, layerSeriesSpec('update_ratio', true)],
        gdr: [gdrBox, layerSeriesSpec('grad_data_ratio', true)],
      };
      for (const [key, [box, spec]] of Object.entries(specs)) {
        if (charts[key] && charts[key].spec.series.length === spec.series.length) {
          charts[key].spec = spec;
          charts[key].setData(spec.data);
        } else {
          if (charts[key]) charts[key].destroy();
          charts[key] = new Chart(ctx, box, spec);
        }
      }
    }

    // ---- the step: slider, label, profile, map marker, histograms ----
    function profileAt(i) {
      return series.layers.layers.map((l) => {
        const v = l[st.field][i];
        return finite(v) ? v : null;
      });
    }

    function drawProfile() {
      const f = fieldInfo(st.field);
      const L = layerCount();
      const xs = [...Array(L).keys()];
      const cur = st.idx >= 0 ? profileAt(st.idx) : xs.map(() => null);
      const first = probed().length ? profileAt(0) : xs.map(() => null);
      profileBox.dataset.values = JSON.stringify(cur);
      profileBox.dataset.step = st.idx >= 0 ? String(stepAt(st.idx)) : '';
      profileBox.dataset.field = st.field;
      const tx = f.log ? positives : finites;
      const spec = {
        xLabel: 'layer (input → output)', xInteger: true, yLabel: st.field, log: f.log, yRange: f.log ? undefined : [0, 1], height: 200,
        empty: 'no probed steps yet',
        series: [
          { label: 'at the slider\'s step', stroke: '#c0392b', width: 2, points: { show: true, size: 5 } },
          { label: 'first probed step', stroke: '#9aa5b1', dash: [4, 3], width: 1 },
        ],
        data: [xs, tx(cur), tx(first)],
      };
      if (charts.profile && charts.profile.spec.log === spec.log) {
        charts.profile.spec = spec;
        charts.profile.setData(spec.data);
      } else {
        if (charts.profile) charts.profile.destroy();
        charts.profile = new Chart(ctx, profileBox, spec);
      }
    }

    function setIdx(i, quiet) {
      const n = probed().length;
      if (!n) {
        st.idx = -1;
        stepLabel.textContent = 'no probed steps yet';
        drawProfile();
        return;
      }
      st.idx = Math.max(0, Math.min(n - 1, i));
      slider.max = String(n - 1);
      slider.value = String(st.idx);
      stepLabel.textContent = `step ${stepAt(st.idx)}  (${st.idx + 1} of ${n})`;
      flow.setStepIndex(st.idx);
      drawProfile();
      for (const key of ['loss', 'acc', 'sat', 'dead', 'upd', 'gdr']) if (charts[key]) charts[key].redraw();
      if (!quiet) saveUrl();
      loadHistograms(false);
      loadThroughTime(false);
    }

    // Arrow keys move the slider: natively while it has the focus, and from anywhere on the view.
    const onKey = (e) => {
      if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      const t = e.target;
      if (t === slider || (t && t.closest && t.closest('input, select, textarea'))) return;
      e.preventDefault();
      const by = (e.key === 'ArrowRight' ? 1 : -1) * (e.shiftKey ? 10 : 1);
      setIdx(st.idx + by);
    };
    document.addEventListener('keydown', onKey);
    ctx.cleanups.push(() => document.removeEventListener('keydown', onKey));
    slider.addEventListener('keydown', (e) => {
      if (!e.shiftKey || (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight')) return;
      e.preventDefault();
      setIdx(st.idx + (e.key === 'ArrowRight' ? 10 : -10));
    });

    // ---- layers ----
    function renderChips() {
      const L = layerCount();
      chips.replaceChildren(...[...Array(L).keys()].map((l) => {
        const on = st.layers.has(l);
        return h('span', {
          class: `chip${on ? ' on' : ''}`, 'data-layer': l, title: series.layers.layers[l].path,
          style: on ? { background: layerColor(l, L) } : null,
          onclick: () => toggleLayer(l),
        }, `L${l}`);
      }), st.layers.size ? h('a', { href: '#', class: 'small', onclick: (e) => { e.preventDefault(); st.layers.clear(); layersChanged(); } }, 'all') : '');
    }

    function toggleLayer(l) {
      if (st.layers.has(l)) st.layers.delete(l);
      else st.layers.add(l);
      layersChanged();
    }

    function layersChanged() {
      saveUrl();
      renderChips();
      flow.setSelected(st.layers);
      drawCurves();
      loadHistograms(true);
    }

    // ---- histograms (nearest stored step) ----
    let histStep = null;
    let histSeq = 0;
    const histSteps = () => info.histogram_steps || [];
    // A forced load (new layers, tensor) survives the debounce of a plain one after it.
    let histForce = false;
    const loadHistograms = (force) => {
      if (force) histForce = true;
      loadHistogramsSoon();
    };
    const loadHistogramsSoon = debounce(async () => {
      const force = histForce;
      histForce = false;
      if (!ctx.alive) return;
      const hs = histSteps();
      if (!hs.length) {
        histBox.replaceChildren(h('div', { class: 'empty small' }, 'no histograms recorded (probe.histogram_every = 0)'));
        return;
      }
      if (st.idx < 0) return;
      const want = hs[nearestIndex(hs, stepAt(st.idx))];
      if (!force && want === histStep) return;
      histStep = want;
      const seq = ++histSeq;
      try {
        const data = await api(`/api/runs/${id}/histograms` + qs({ step: want }));
        if (!ctx.alive || seq !== histSeq) return;
        drawHistograms(data);
      } catch (e) {
        if (ctx.alive) showError(e);
      }
    }, 80);

    function drawHistograms(data) {
      const { log10_min: lo, width, count } = data.bins;
      const layers = histLayers();
      const L = layerCount();
      const chosen = layers.map((l) => data.histograms.find((x) => x.layer === l && x.tensor === st.tensor)).filter(Boolean);
      histBox.dataset.step = String(data.step);
      histBox.dataset.layers = chosen.map((x) => x.layer).join(',');
      histNote.textContent = `at step ${data.step} (nearest stored) · fraction of entries per bin`;
      if (!chosen.length) {
        if (charts.hist) charts.hist.destroy();
        charts.hist = null;
        histBox.replaceChildren(h('div', { class: 'empty small' }, `no ${st.tensor} histograms at step ${data.step} for these layers`));
        return;
      }
      const fractions = chosen.map((x) => {
        const total = x.zero + x.non_finite + x.neg.reduce((a, b) => a + b, 0) + x.pos.reduce((a, b) => a + b, 0);
        return x.neg.map((n, i) => (total ? (n + x.pos[i]) / total : 0));
      });
      let first = count;
      let last = -1;
      for (const f of fractions) {
        f.forEach((v, i) => {
          if (v > 0) {
            first = Math.min(first, i);
            last = Math.max(last, i);
          }
        });
      }
      if (last < 0) {
        first = 0;
        last = count - 1;
      }
      first = Math.max(0, first - 1);
      last = Math.min(count - 1, last + 1);
      const xs = [];
      for (let i = first; i <= last; i++) xs.push(lo + (i + 0.5) * width);
      const spec = {
        xLabel: 'log10 |v|', yLabel: 'fraction', height: 170,
        series: chosen.map((x) => {
          const zeros = x.zero ? ` (${x.zero} zero)` : '';
          return { label: `L${x.layer}${zeros}`, stroke: layerColor(x.layer, L), fill: layerColor(x.layer, L, 0.35), bars: true, width: 1 };
        }),
        data: [xs, ...fractions.map((f) => f.slice(first, last + 1))],
      };
      if (charts.hist) charts.hist.destroy();
      charts.hist = new Chart(ctx, histBox, spec);
    }

    // ---- through time ----
    let ttStep = null;
    let ttSeq = 0;
    let ttForce = false;
    const loadThroughTime = (force) => {
      if (force) ttForce = true;
      loadThroughTimeSoon();
    };
    const loadThroughTimeSoon = debounce(async () => {
      const force = ttForce;
      ttForce = false;
      if (!ctx.alive || !(info.through_time && info.through_time.length) || st.idx < 0) return;
      const want = stepAt(st.idx);
      if (!force && want === ttStep) return;
      ttStep = want;
      const seq = ++ttSeq;
      try {
        const data = await api(`/api/runs/${id}/through-time` + qs({ step: want, figure: ttFigure }));
        if (!ctx.alive || seq !== ttSeq) return;
        ttData = data;
        drawThroughTime();
      } catch (e) {
        if (ctx.alive) showError(e);
      }
    }, 120);

    /** The chosen tensors' figure per time step (or channel, position) at the slider's step. */
    function drawThroughTime() {
      if (!ttData) return;
      const shown = ttData.series.filter((s) => ttShown.has(s.tensor));
      const len = Math.max(0, ...shown.map((s) => s.values.length));
      const log = TT_LOG.has(ttData.figure);
      const axis = ttData.series.length ? ttData.series[0].axis.replace(/_/g, ' ') : 'time step';
      const spec = {
        xLabel: axis, yLabel: ttData.figure, log, height: 220, xInteger: true,
        empty: 'choose a tensor above',
        series: shown.map((s) => ({
          label: `L${s.layer} ${s.tensor}`, stroke: runColor(ttTensors.indexOf(s.tensor)), dash: s.layer > 0 ? [5, 3] : undefined,
        })),
        data: [[...Array(len).keys()], ...shown.map((s) => {
          const v = s.values.concat(Array(len - s.values.length).fill(null));
          return log ? positives(v) : finites(v);
        })],
      };
      ttBox.dataset.step = String(ttData.step);
      ttNote.textContent = `${ttData.figure} per ${axis} at step ${ttData.step} (nearest probed)`;
      if (charts.tt) charts.tt.destroy();
      charts.tt = new Chart(ctx, ttBox, spec);
    }

    // ---- findings ----
    function renderFindings() {
      const list = info.findings || [];
      if (!list.length) {
        findingsBox.replaceChildren(h('div', { class: 'empty small' },
          info.run.status === 'running' ? 'Diagnosis runs when the run ends.' : 'No findings saved for this run.'));
        return;
      }
      findingsBox.replaceChildren(...list.map((f) => {
        const where = [];
        if (f.layers.length) where.push(`layers ${f.layers.join(', ')}`);
        if (f.steps.length) where.push(`steps ${f.steps.join('–')}`);
        const node = h('div', { class: `finding ${f.severity}`, 'data-testid': 'finding', 'data-kind': f.kind, 'data-layers': f.layers.join(',') },
          h('div', { class: 'row' },
            h('span', { class: `badge ${f.severity}` }, f.severity),
            h('span', { class: 'kind' }, sentence(f.kind)),
            h('span', { class: 'muted small' }, where.join(' · ')),
            h('span', { class: 'spacer' }),
            h('button', { 'data-testid': 'show-on-map', onclick: () => showOnMap(f, node) }, 'show on map')),
          h('div', null, f.summary),
          f.evidence.length ? h('table', { class: 'evidence small' }, f.evidence.map((e) => h('tr', null,
            h('td', null, h('code', null, e.name)), h('td', { class: 'num' }, fmt(e.value)), h('td', { class: 'muted' }, e.note)))) : null,
          f.remedies.length ? h('details', null,
            h('summary', { class: 'small muted' }, `${f.remedies.length} remed${f.remedies.length === 1 ? 'y' : 'ies'} to test`),
            f.remedies.map((rm, i) => {
              const copy = h('button', { onclick: () => copyText(rm.command, copy) }, 'copy');
              return h('div', { class: 'remedy' },
                h('div', null, h('b', null, `${i + 1}. ${rm.title}`), h('span', { class: 'why' }, ` — ${rm.why}`)),
                h('div', { class: 'cmd' }, h('code', null, rm.command), copy));
            })) : null);
        return node;
      }));
    }

    function showOnMap(f, node) {
      for (const other of findingsBox.querySelectorAll('.finding')) other.classList.remove('shown');
      if (st.highlight === f) {
        st.highlight = null;
        flow.setHighlight(null);
        return;
      }
      node.classList.add('shown');
      st.highlight = f;
      flow.setHighlight(f);
      if (f.layers.length) {
        st.layers = new Set(f.layers);
        layersChanged();
      }
      if (f.steps.length) setIdx(nearestIndex(probed(), f.steps[f.steps.length - 1]));
      mapPanel.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
    }

    // ---- drawing everything ----
    function drawField() {
      const f = fieldInfo(st.field);
      flow.setData(probed(), series.layers.layers.map((l) => ({ layer: l.layer, path: l.path, values: l[f.name] })), f);
      flow.setSelected(st.layers);
      flow.setStepIndex(st.idx);
      drawProfile();
    }

    renderHeader();
    renderChips();
    renderFindings();
    drawCurves();
    const initial = wantedStep != null && probed().length ? nearestIndex(probed(), wantedStep) : probed().length - 1;
    st.idx = initial;
    drawField();
    setIdx(initial, wantedStep == null);
    ctx.resizers.push(() => flow.draw());

    // ---- live: re-fetch the series when the run's steps advance (at most once a second) ----
    let lastSteps = info.run.steps;
    let lastStatus = info.run.status;
    let refreshing = false;
    const refresh = throttle(async () => {
      if (!ctx.alive || refreshing) return;
      refreshing = true;
      try {
        const statusChanged = lastStatus !== info.run.status;
        const followTip = st.idx >= probed().length - 1;
        const keepStep = st.idx >= 0 ? stepAt(st.idx) : null;
        const [fresh, newInfo] = await Promise.all([fetchSeries(), api(`/api/runs/${id}`)]);
        if (!ctx.alive) return;
        series = fresh;
        info = newInfo;
        lastStatus = info.run.status;
        renderHeader();
        if (statusChanged || layerCount() !== chips.children.length) {
          renderFindings();
          renderChips();
        }
        drawCurves();
        const n = probed().length;
        st.idx = followTip || keepStep == null ? n - 1 : nearestIndex(probed(), keepStep);
        drawField();
        setIdx(st.idx, true);
        if (statusChanged) loadHistograms(true);
      } catch (e) {
        if (ctx.alive) showError(e);
      } finally {
        refreshing = false;
      }
    }, 1000);
    let lastFindings;
    async function refreshInfo() {
      try {
        const fresh = await api(`/api/runs/${id}`);
        if (!ctx.alive) return;
        info = fresh;
        renderHeader();
        renderFindings();
      } catch (e) {
        if (ctx.alive) showError(e);
      }
    }

    live.subscribe(ctx, (runs) => {
      const p = runs.get(id);
      if (!p) return;
      liveSteps.textContent = String(p.steps);
      if (p.status !== info.run.status) statusBox.replaceChildren(statusBadge(p.status));
      if (p.steps !== lastSteps || p.status !== lastStatus) {
        lastSteps = p.steps;
        if (p.status !== lastStatus) info.run.status = p.status;
        refresh();
      }
      // Diagnosis saves the findings as the run ends, or later
      // (`gradscope diagnose`): the event's count says when.
      if (p.findings !== lastFindings) {
        const first = lastFindings === undefined;
        lastFindings = p.findings;
        if (!first) refreshInfo();
      }
    });
  }

  // ==========================================================================
  // 10. Compare view
  // ==========================================================================

  async function compareView(ctx, root, r) {
    const ids = [...new Set((r.params.runs || '').split(',').filter((s) => /^\d+$/.test(s)).map(Number))];
    const st = {
      field: fieldInfo(r.params.field).name,
      step: r.params.step != null && /^\d+$/.test(r.params.step) ? Number(r.params.step) : null,
    };
    const all = (await api('/api/runs')).runs;
    if (!ctx.alive) return;

    const go = (list) => { location.hash = hashFor('compare', null, { runs: list.join(','), step: st.step, field: st.field !== 'pre_grad_rms' ? st.field : null }); };
    const save = () => replaceHash('compare', null, { runs: ids.join(','), step: st.step, field: st.field !== 'pre_grad_rms' ? st.field : null });

    const picker = h('select', { 'data-testid': 'compare-picker' },
      h('option', { value: '' }, 'add a run…'),
      all.filter((x) => !ids.includes(x.id)).map((x) => h('option', { value: x.id }, `#${x.id} ${x.name} (${x.status})`)));
    picker.addEventListener('change', () => { if (picker.value) go([...ids, Number(picker.value)]); });

    const legend = h('div', { class: 'legend-list', 'data-testid': 'compare-legend' });
    const profileBox = h('div', { class: 'chart', 'data-testid': 'compare-profile' });
    const lossBox = h('div', { class: 'chart', 'data-testid': 'compare-loss' });
    const accBox = h('div', { class: 'chart', 'data-testid': 'compare-accuracy' });
    const stepInput = h('input', { type: 'number', min: 0, step: 1, style: { width: '90px' }, 'data-testid': 'compare-step', value: st.step != null ? st.step : '' });
    const lastBox = h('input', { type: 'checkbox', checked: st.step == null, 'data-testid': 'compare-last' });
    const profileNote = h('span', { class: 'note' });

    root.append(
      h('div', { class: 'row' }, h('h1', null, 'Compare runs'), h('span', { class: 'spacer' }), picker),
      legend);
    if (!ids.length) {
      root.append(h('div', { class: 'panel empty', 'data-testid': 'compare-empty' },
        'Pick runs to compare here, or tick them on the ', h('a', { href: '#/runs' }, 'runs list'), '.'));
      return;
    }
    root.append(
      h('div', { style: { marginTop: '10px' } }, panel('Depth profiles', null,
        h('div', { class: 'row', style: { marginBottom: '6px' } },
          h('label', { class: 'ctl' }, 'field', fieldSelect(st.field, (f) => { st.field = f; save(); loadField().catch(showError); })),
          h('label', { class: 'ctl' }, lastBox, 'each run\'s last probed step'),
          h('label', { class: 'ctl' }, 'or step', stepInput),
          profileNote),
        profileBox)),
      h('div', { class: 'grid2' }, panel('Training loss (batch)', null, lossBox), panel('Held-out accuracy', null, accBox)));

    // Every run's data; a run that cannot be read is named in the error box and left out.
    const runs = [];
    const errors = [];
    await Promise.all(ids.map(async (id, k) => {
      try {
        const [info, steps, evals] = await Promise.all([
          api(`/api/runs/${id}`), api(`/api/runs/${id}/steps` + qs({ points: STEP_POINTS })), api(`/api/runs/${id}/evals` + qs({ points: STEP_POINTS })),
        ]);
        runs[k] = { id, info, steps, evals, color: runColor(k), layers: null };
      } catch (e) {
        errors.push(e.message);
      }
    }));
    if (!ctx.alive) return;
    if (errors.length) showError(errors.join('\n'));
    const present = runs.filter(Boolean);
    if (!present.length) {
      profileBox.replaceChildren(h('div', { class: 'empty' }, 'None of these runs could be read.'));
      return;
    }

    legend.replaceChildren(...present.map((x) => h('span', { class: 'legend-entry', 'data-testid': 'compare-legend-entry', 'data-run-id': x.id },
      h('span', { class: 'line', style: { background: x.color } }),
      h('a', { href: hashFor('run', x.id, {}) }, `#${x.id} ${x.info.run.name}`),
      h('span', { class: 'muted small' }, x.info.run.status),
      h('button', { title: 'remove from the comparison', onclick: () => go(ids.filter((i) => i !== x.id)) }, '×'))));

    const charts = {};
    function drawProfiles() {
      if (present.some((x) => !x.layers)) return;
      const f = fieldInfo(st.field);
      const depth = Math.max(0, ...present.map((x) => x.layers.layers.length));
      const xs = [...Array(depth).keys()];
      const values = {};
      const notes = [];
      const ys = present.map((x) => {
        const steps = x.layers.step;
        if (!steps.length) return xs.map(() => null);
        const i = st.step == null ? steps.length - 1 : nearestIndex(steps, st.step);
        notes.push(`#${x.id}: step ${steps[i]}`);
        const v = xs.map((l) => (l < x.layers.layers.length ? x.layers.layers[l][f.name][i] : null)).map((y) => (finite(y) ? y : null));
        values[x.id] = v;
        return v;
      });
      profileBox.dataset.values = JSON.stringify(values);
      profileNote.textContent = notes.join(' · ');
      const spec = {
        xLabel: 'layer (input → output)', xInteger: true, yLabel: f.name, log: f.log, yRange: f.log ? undefined : [0, 1], height: 240,
        series: present.map((x) => ({ label: `#${x.id} ${x.info.run.name}`, stroke: x.color, width: 2, points: { show: true, size: 5 } })),
        data: [xs, ...ys.map(f.log ? positives : finites)],
      };
      if (charts.profile) charts.profile.destroy();
      charts.profile = new Chart(ctx, profileBox, spec);
    }

    async function loadField() {
      const answers = await Promise.all(present.map((x) => api(`/api/runs/${x.id}/layers` + qs({ fields: st.field, points: LAYER_POINTS }))));
      if (!ctx.alive) return;
      answers.forEach((a, k) => { present[k].layers = a; });
      drawProfiles();
    }

    function drawCurves() {
      const series = present.map((x) => ({ label: `#${x.id} ${x.info.run.name}`, stroke: x.color, width: 1.5 }));
      if (!present.length) return;
      charts.loss = new Chart(ctx, lossBox, {
        xLabel: 'step', xInteger: true, yLabel: 'loss', series,
        data: uPlot.join(present.map((x) => [x.steps.step, finites(x.steps.loss)])),
      });
      charts.acc = new Chart(ctx, accBox, {
        xLabel: 'step', xInteger: true, yLabel: 'accuracy', yRange: [0, 1], empty: 'no evaluations recorded',
        series: series.map((s) => Object.assign({}, s, { points: { show: true, size: 5 } })),
        data: uPlot.join(present.map((x) => [x.evals.step, finites(x.evals.test_accuracy)])),
      });
    }

    const setStep = () => {
      st.step = lastBox.checked || stepInput.value === '' ? null : Math.max(0, Math.floor(Number(stepInput.value)));
      save();
      drawProfiles();
    };
    lastBox.addEventListener('change', () => {
      if (!lastBox.checked && stepInput.value === '') stepInput.value = '0';
      setStep();
    });
    stepInput.addEventListener('input', debounce(() => { lastBox.checked = stepInput.value === ''; setStep(); }, 200));

    drawCurves();
    if (present.length) await loadField();
  }

  // ==========================================================================
  // 11. Sweep view
  // ==========================================================================

  const sameValue = (a, b) => JSON.stringify(a) === JSON.stringify(b);

  /** An axis's values: the sweep file's, in the order it visits them
   *  (cells not run yet included); else the runs' own (numbers ascending). */
  function axisValues(runs, axis, declared) {
    if (declared && Array.isArray(declared[axis])) return declared[axis];
    const out = [];
    for (const run of runs) {
      const v = run.cell ? run.cell[axis] : undefined;
      if (!out.some((x) => sameValue(x, v))) out.push(v);
    }
    if (out.every((v) => typeof v === 'number')) out.sort((a, b) => a - b);
    return out;
  }

  function majorityClass(runs) {
    const counts = {};
    for (const run of runs) if (run.class) counts[run.class] = (counts[run.class] || 0) + 1;
    let best = null;
    for (const [cls, n] of Object.entries(counts)) if (!best || n > counts[best]) best = cls;
    return best;
  }

  async function sweepView(ctx, root, r) {
    const id = Number(r.id);
    if (!Number.isInteger(id)) throw new Error(`not a sweep id: ${r.id}`);
    const mapBox = h('div', { 'data-testid': 'sweep-map' });
    const listBox = h('div');
    const head = h('div');
    root.append(head, h('div', { style: { marginTop: '10px' } }, panel('Trainability map', 'each cell coloured by its runs\' class (the seeds\' majority); a run\'s link opens it', mapBox)),
      h('div', { style: { marginTop: '10px' } }, panel('Runs by cell', null, listBox)));

    function cellLink(run) {
      const color = CLASS_COLORS[run.class] || '#e6e9ed';
      return h('a', {
        href: hashFor('run', run.id, {}), 'data-testid': 'sweep-cell-run', 'data-run-id': run.id,
        title: `${run.name}: ${run.status}${run.rule && run.rule !== 'none' ? `, ${run.rule}` : ''}`,
        style: { background: color, borderRadius: '3px', padding: '1px 4px', margin: '1px 0' },
      }, `#${run.id} ${run.class || run.status} ${run.test_accuracy != null ? pct(run.test_accuracy) : ''}`);
    }

    function cellTd(runs) {
      const cls = majorityClass(runs);
      return h('td', { class: 'cell', 'data-class': cls || '', style: { background: cls ? CLASS_COLORS[cls] : null } },
        runs.length ? runs.map(cellLink) : h('span', { class: 'muted small' }, 'no run'));
    }

    function render(d) {
      const axes = d.axes || [];
      const runs = d.runs || [];
      head.replaceChildren(h('section', { class: 'panel' },
        h('div', { class: 'run-head' }, h('h1', null, `${d.sweep.name} `, h('span', { class: 'muted' }, `sweep #${d.sweep.id}`)),
          h('span', { class: 'facts' }, `${runs.length} runs · axes: ${axes.join(' × ') || 'none'} · ${fmtTime(d.sweep.created_at)}`),
          h('span', { class: 'spacer' }), h('a', { href: hashFor('runs', null, { sweep: d.sweep.id }) }, 'in the runs list')),
        h('details', { class: 'spec' }, h('summary', null, 'sweep spec'), h('pre', null, d.spec || ''))));

      const legend = h('div', { class: 'class-legend' }, Object.entries(CLASS_COLORS).map(([cls, color]) =>
        h('span', null, h('span', { class: 'swatch', style: { background: color } }), `${cls}: ${CLASS_NOTES[cls]}`)),
      h('span', null, h('span', { class: 'swatch', style: { background: '#e6e9ed' } }), 'not classified yet'));
      const match = (run, values) => axes.every((a, i) => sameValue(run.cell ? run.cell[a] : undefined, values[i]));
      if (axes.length === 2 || axes.length === 1) {
        const rowsV = axisValues(runs, axes[0], d.axis_values);
        const colsV = axes.length === 2 ? axisValues(runs, axes[1], d.axis_values) : [null];
        mapBox.replaceChildren(h('table', { class: 'sweep-map' },
          h('thead', null, h('tr', null, h('th', null, axes.length === 2 ? `${axes[0]} ↓ · ${axes[1]} →` : axes[0]),
            axes.length === 2 ? colsV.map((v) => h('th', null, String(v))) : h('th', null, ''))),
          h('tbody', null, rowsV.map((rv) => h('tr', null, h('th', null, String(rv)),
            colsV.map((cv) => cellTd(runs.filter((run) => match(run, axes.length === 2 ? [rv, cv] : [rv]))))))),
        ), legend);
      } else {
        mapBox.replaceChildren(h('p', { class: 'muted small' }, `${axes.length} axes: the runs by cell are listed below.`), legend);
      }
      const sorted = [...runs].sort((a, b) => cellText(a.cell).localeCompare(cellText(b.cell)) || a.seed - b.seed);
      listBox.replaceChildren(h('table', { class: 'list', 'data-testid': 'sweep-runs' },
        h('thead', null, h('tr', null, ['cell', 'seed', 'run', 'status', 'class', 'rule', 'test acc'].map((t) => h('th', null, t)))),
        h('tbody', null, sorted.map((run) => h('tr', null,
          h('td', null, cellText(run.cell)), h('td', { class: 'num' }, String(run.seed)),
          h('td', null, h('a', { href: hashFor('run', run.id, {}) }, `#${run.id} ${run.name}`)),
          h('td', null, statusBadge(run.status)), h('td', null, classBadge(run.class)),
          h('td', { class: 'muted' }, run.rule || ''), h('td', { class: 'num' }, pct(run.test_accuracy)))))));
    }

    const load = async () => {
      const d = await api(`/api/sweeps/${id}`);
      if (ctx.alive) render(d);
      return d;
    };
    const d = await load();
    const members = new Set(d.runs.map((x) => x.id));
    const reload = throttle(() => { if (ctx.alive) load().catch(showError); }, 1000);
    let sig = '';
    live.subscribe(ctx, (runs) => {
      const next = [...runs.values()].filter((p) => members.has(p.id) || p.status === 'running').map((p) => `${p.id}:${p.status}:${p.class || ''}`).join(',');
      if (sig && next !== sig) reload();
      sig = next;
    });
  }

  // ==========================================================================
  // 12. Start
  // ==========================================================================

  if (typeof uPlot === 'undefined') {
    showError('uplot.js did not load: the page cannot draw its charts');
    return;
  }
  live.start();
  if (!location.hash) history.replaceState(null, '', '#/runs');
  route();
})();

