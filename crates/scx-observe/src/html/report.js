/* scxsim HTML report: draws the charts from the embedded JSON
 * (#scxsim-data, built by html/mod.rs). Plain ES2017, no libraries. */
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('scxsim-data').textContent);
  var SVGNS = 'http://www.w3.org/2000/svg';
  var COLOURS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948',
    '#b07aa1', '#ff9da7', '#9c755f', '#2ca7c9', '#8cd17d', '#aab2bd'];

  function $(id) { return document.getElementById(id); }
  function colour(i) { return COLOURS[Math.min(i, COLOURS.length - 1)]; }

  function fmtNs(ns) {
    if (ns < 1e3) return ns.toFixed(0) + ' ns';
    if (ns < 1e6) return (ns / 1e3).toFixed(1) + ' µs';
    if (ns < 1e9) return (ns / 1e6).toFixed(2) + ' ms';
    return (ns / 1e9).toFixed(3) + ' s';
  }

  /* A power of ten of ns, compactly (1 µs, 100 ms, 10 s). */
  function fmtDecade(ns) {
    var units = [[1e9, ' s'], [1e6, ' ms'], [1e3, ' µs'], [1, ' ns']];
    for (var i = 0; i < units.length; i++) {
      if (ns >= units[i][0]) return Math.round(ns / units[i][0]) + units[i][1];
    }
    return ns + ' ns';
  }

  /* A time-axis label: seconds with as many decimals as the tick step needs. */
  function fmtT(t, step) {
    var dec = Math.min(9, Math.max(0, Math.ceil(-Math.log10(step / 1e9))));
    return (t / 1e9).toFixed(dec) + ' s';
  }

  function niceStep(span, n) {
    var raw = span / Math.max(1, n);
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = raw / p;
    return p * (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10);
  }

  function ticks(a, b, n) {
    var step = niceStep(b - a, n), out = [];
    for (var t = Math.ceil(a / step) * step; t <= b + step * 1e-9; t += step) out.push(t);
    return { step: step, ticks: out };
  }

  function node(tag, attrs, parent, text) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  function svgRoot(root, w, h) {
    var s = node('svg', { viewBox: '0 0 ' + w + ' ' + h, role: 'img' });
    root.appendChild(s);
    return s;
  }

  function empty(root, msg) {
    var d = document.createElement('div');
    d.className = 'empty';
    d.textContent = msg;
    root.appendChild(d);
  }

  function legend(root, items) {
    var box = document.createElement('div');
    box.className = 'legend';
    items.forEach(function (it) {
      var s = document.createElement('span');
      var i = document.createElement('i');
      i.style.background = it[0];
      s.appendChild(i);
      s.appendChild(document.createTextNode(it[1]));
      box.appendChild(s);
    });
    root.appendChild(box);
  }

  /* ---------------------------------------------------------------- timeline */

  function timeline() {
    var root = $('timeline'), canvas = $('tl-canvas'), tip = $('tl-tip');
    var lanes = D.lanes, nr = lanes.length, end = Math.max(D.end, 1);
    var LABEL = 64, RIGHT = 8, AXIS = 24, ROW = nr > 24 ? 14 : 26, GAP = 3;
    var ctx = canvas.getContext('2d');
    var v0 = 0, v1 = end, W = 0, H = 0, drag = null;

    function plotW() { return Math.max(1, W - LABEL - RIGHT); }
    function x(t) { return LABEL + (t - v0) / (v1 - v0) * plotW(); }
    function tAt(px) { return v0 + (px - LABEL) / plotW() * (v1 - v0); }
    function first(lane, t) {
      var lo = 0, hi = lane.length / 4;
      while (lo < hi) {
        var mid = (lo + hi) >> 1;
        if (lane[mid * 4 + 1] < t) lo = mid + 1; else hi = mid;
      }
      return lo;
    }
    function resize() {
      var dpr = window.devicePixelRatio || 1;
      W = Math.max(320, root.clientWidth);
      H = AXIS + Math.max(1, nr) * ROW + 4;
      canvas.width = Math.round(W * dpr);
      canvas.height = Math.round(H * dpr);
      canvas.style.height = H + 'px';
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    }
    function drawLane(c, y) {
      var lane = lanes[c], n = lane.length / 4, right = W - RIGHT;
      for (var i = first(lane, v0); i < n; i++) {
        var s = lane[i * 4], e = lane[i * 4 + 1];
        if (s > v1) break;
        var task = D.tasks[lane[i * 4 + 2]];
        var x0 = Math.max(LABEL, x(s)), x1 = Math.min(right, x(e));
        if (x1 - x0 < 1) x1 = x0 + 1;
        ctx.globalAlpha = Math.max(0.3, Math.min(1, lane[i * 4 + 3] / Math.max(1, e - s)));
        ctx.fillStyle = colour(task[2]);
        ctx.fillRect(x0, y, x1 - x0, ROW - GAP);
      }
      ctx.globalAlpha = 1;
    }
    function draw() {
      resize();
      ctx.clearRect(0, 0, W, H);
      ctx.font = '11px system-ui, "DejaVu Sans", sans-serif';
      var tk = ticks(v0, v1, Math.max(2, Math.floor(plotW() / 120)));
      for (var c = 0; c < nr; c++) {
        var y = AXIS + c * ROW;
        ctx.fillStyle = c % 2 ? '#f7f8fb' : '#eef1f6';
        ctx.fillRect(LABEL, y, plotW(), ROW - GAP);
        ctx.fillStyle = '#1d2433';
        ctx.fillText('CPU ' + c, 8, y + (ROW - GAP) / 2 + 4);
        drawLane(c, y);
      }
      ctx.strokeStyle = 'rgba(29,36,51,0.18)';
      ctx.fillStyle = '#6b7486';
      tk.ticks.forEach(function (t) {
        var px = Math.round(x(t)) + 0.5;
        ctx.beginPath();
        ctx.moveTo(px, AXIS - 5);
        ctx.lineTo(px, H - 2);
        ctx.stroke();
        var label = fmtT(t, tk.step), tw = ctx.measureText(label).width;
        ctx.fillText(label, px + 3 + tw > W ? px - 3 - tw : px + 3, AXIS - 9);
      });
      var st = niceStep(v1 - v0, 4);
      $('tl-range').textContent = fmtT(v0, st) + ' – ' + fmtT(v1, st) + '  (' + fmtNs(v1 - v0) + ')';
    }
    function setView(a, b) {
      var span = Math.min(end, Math.max(1000, b - a));
      a = Math.max(0, Math.min(a, end - span));
      v0 = a;
      v1 = a + span;
      draw();
    }
    function zoom(f, at) {
      setView(at - (at - v0) * f, at - (at - v0) * f + (v1 - v0) * f);
    }
    function showTip(ev) {
      var r = canvas.getBoundingClientRect();
      var px = ev.clientX - r.left, py = ev.clientY - r.top;
      var c = Math.floor((py - AXIS) / ROW);
      if (c < 0 || c >= nr || px < LABEL) { tip.hidden = true; return; }
      var lane = lanes[c], t = tAt(px), i = first(lane, t);
      var s = lane[i * 4], e = lane[i * 4 + 1];
      var slop = (v1 - v0) / plotW();
      if (i * 4 >= lane.length || s > t + slop) { tip.hidden = true; return; }
      var task = D.tasks[lane[i * 4 + 2]], busy = lane[i * 4 + 3];
      tip.textContent = 'CPU ' + c + '  ' + task[1] + '[' + task[0] + ']\n' +
        fmtT(s, 1) + ' → ' + fmtT(e, 1) + '  (' + fmtNs(e - s) + ')' +
        (busy < e - s ? '\nbusy ' + (100 * busy / (e - s)).toFixed(0) + '% (aggregated)' : '');
      tip.hidden = false;
      tip.style.left = Math.min(px + 14, W - 260) + 'px';
      tip.style.top = (py + 14) + 'px';
    }
    canvas.addEventListener('wheel', function (ev) {
      ev.preventDefault();
      var r = canvas.getBoundingClientRect();
      zoom(ev.deltaY > 0 ? 1.25 : 0.8, tAt(ev.clientX - r.left));
    }, { passive: false });
    canvas.addEventListener('mousedown', function (ev) {
      drag = { x: ev.clientX, v0: v0, v1: v1 };
      root.style.cursor = 'grabbing';
    });
    window.addEventListener('mouseup', function () { drag = null; root.style.cursor = ''; });
    canvas.addEventListener('mousemove', function (ev) {
      if (!drag) { showTip(ev); return; }
      var dt = (ev.clientX - drag.x) / plotW() * (drag.v1 - drag.v0);
      setView(drag.v0 - dt, drag.v1 - dt);
    });
    canvas.addEventListener('mouseleave', function () { tip.hidden = true; });
    canvas.addEventListener('dblclick', function () { setView(0, end); });
    $('tl-in').addEventListener('click', function () { zoom(0.5, (v0 + v1) / 2); });
    $('tl-out').addEventListener('click', function () { zoom(2, (v0 + v1) / 2); });
    $('tl-reset').addEventListener('click', function () { setView(0, end); });
    var pending = null;
    window.addEventListener('resize', function () {
      clearTimeout(pending);
      pending = setTimeout(draw, 100);
    });
    draw();
    legend($('tl-legend'), D.groups.map(function (g) {
      return [colour(g[1]), g[1] >= D.palette - 1 && D.groups.length >= D.palette ? g[0] + ' (other)' : g[0]];
    }).slice(0, 40));
  }

  /* --------------------------------------------------------------- CDF chart */

  function cdf() {
    var root = $('cdf'), G = D.cdf;
    if (!G.length) { empty(root, 'No wakeups recorded.'); return; }
    var W = 600, H = 300, L = 46, R = 14, T = 10, B = 34;
    var lo = Infinity, hi = 1;
    G.forEach(function (g) {
      g.pts.forEach(function (p) { if (p[0] > 0) lo = Math.min(lo, p[0]); hi = Math.max(hi, p[0]); });
    });
    if (!isFinite(lo)) lo = 1;
    var l0 = Math.floor(Math.log10(lo)), l1 = Math.max(l0 + 1, Math.ceil(Math.log10(hi)));
    function xs(v) { return L + (Math.log10(Math.max(v, Math.pow(10, l0))) - l0) / (l1 - l0) * (W - L - R); }
    function ys(q) { return T + (1 - q) * (H - T - B); }
    var s = svgRoot(root, W, H);
    var grid = node('g', { 'class': 'grid' }, s), axis = node('g', { 'class': 'axis' }, s);
    for (var d = l0; d <= l1; d++) {
      var px = xs(Math.pow(10, d));
      node('line', { x1: px, x2: px, y1: T, y2: H - B }, grid);
      node('text', { x: px, y: H - B + 16, 'text-anchor': 'middle' }, axis, fmtDecade(Math.pow(10, d)));
    }
    [0, 0.25, 0.5, 0.75, 1].forEach(function (q) {
      node('line', { x1: L, x2: W - R, y1: ys(q), y2: ys(q) }, grid);
      node('text', { x: L - 6, y: ys(q) + 4, 'text-anchor': 'end' }, axis, (q * 100) + '%');
    });
    node('line', { x1: L, x2: W - R, y1: H - B, y2: H - B }, axis);
    node('text', { x: (L + W - R) / 2, y: H - 4, 'text-anchor': 'middle' }, axis, 'wakeup latency');
    G.forEach(function (g) {
      var dpath = g.pts.map(function (p, i) {
        return (i ? 'L' : 'M') + xs(p[0]).toFixed(1) + ' ' + ys(p[1]).toFixed(1);
      }).join(' ');
      node('path', { d: dpath, fill: 'none', stroke: colour(g.colour), 'stroke-width': 2 }, s);
    });
    legend(root, G.map(function (g) {
      return [colour(g.colour), g.name + '  n=' + g.n + '  p50 ' + fmtNs(g.p50) + '  p99 ' + fmtNs(g.p99)];
    }));
  }

  /* --------------------------------------------------------------- DSQ chart */

  function dsq() {
    var root = $('dsq'), S = D.dsqs;
    if (!S.length) { empty(root, 'No DSQ activity.'); return; }
    var W = 600, H = 300, L = 40, R = 14, T = 10, B = 34, end = Math.max(D.end, 1), peak = 1;
    S.forEach(function (q) { peak = Math.max(peak, q.peak); });
    var yt = ticks(0, peak, Math.min(5, peak));
    var top = Math.max(peak, yt.ticks[yt.ticks.length - 1]);
    function xs(t) { return L + t / end * (W - L - R); }
    function ys(v) { return T + (1 - v / top) * (H - T - B); }
    var s = svgRoot(root, W, H);
    var grid = node('g', { 'class': 'grid' }, s), axis = node('g', { 'class': 'axis' }, s);
    yt.ticks.forEach(function (v) {
      node('line', { x1: L, x2: W - R, y1: ys(v), y2: ys(v) }, grid);
      node('text', { x: L - 6, y: ys(v) + 4, 'text-anchor': 'end' }, axis, String(Math.round(v)));
    });
    var xt = ticks(0, end, 6);
    xt.ticks.forEach(function (t) {
      node('text', { x: xs(t), y: H - B + 16, 'text-anchor': 'middle' }, axis, fmtT(t, xt.step));
    });
    node('line', { x1: L, x2: W - R, y1: H - B, y2: H - B }, axis);
    S.forEach(function (q, k) {
      var n = q.max.length, d = 'M' + xs(0).toFixed(1) + ' ' + ys(q.max[0] || 0).toFixed(1);
      for (var i = 0; i < n; i++) {
        d += ' V' + ys(q.max[i]).toFixed(1) + ' H' + xs((i + 1) / n * end).toFixed(1);
      }
      node('path', { d: d, fill: 'none', stroke: colour(k), 'stroke-width': 1.6, 'stroke-opacity': 0.9 }, s);
    });
    legend(root, S.map(function (q, k) { return [colour(k), q.name + '  (peak ' + q.peak + ')']; }));
  }

  /* ------------------------------------------------------------- share chart */

  function share() {
    var root = $('share'), S = D.share;
    if (!S.length) { empty(root, 'No fair-share tasks.'); return; }
    var LBL = 210, RT = 150, ROWH = 22, W = 1000, T = 22;
    var H = T + S.length * ROWH + 8, max = 0.01;
    S.forEach(function (t) { max = Math.max(max, t.share, t.expected || 0); });
    var xt = ticks(0, max, 6);
    var top = Math.max(max, xt.ticks[xt.ticks.length - 1]);
    function xs(v) { return LBL + v / top * (W - LBL - RT); }
    var s = svgRoot(root, W, H);
    var grid = node('g', { 'class': 'grid' }, s), axis = node('g', { 'class': 'axis' }, s);
    xt.ticks.forEach(function (v) {
      node('line', { x1: xs(v), x2: xs(v), y1: T - 4, y2: H - 4 }, grid);
      node('text', { x: xs(v), y: T - 8, 'text-anchor': 'middle' }, axis, v.toFixed(v < 0.1 ? 3 : 2));
    });
    S.forEach(function (t, i) {
      var y = T + i * ROWH;
      node('text', { x: LBL - 8, y: y + 14, 'text-anchor': 'end', 'class': 'label-strong' }, s,
        t.label + '  w=' + t.weight);
      node('rect', { x: LBL, y: y + 4, width: Math.max(1, xs(t.share) - LBL), height: ROWH - 8,
        rx: 3, fill: colour(t.colour) }, s);
      if (t.expected !== null) {
        var ex = xs(t.expected);
        node('line', { x1: ex, x2: ex, y1: y + 1, y2: y + ROWH - 1, stroke: '#1d2433', 'stroke-width': 2 }, s);
      }
      var r = t.ratio === null ? '' : '  ×' + t.ratio.toFixed(2);
      node('text', { x: W - RT + 8, y: y + 14 }, s,
        t.share.toFixed(3) + ' / ' + (t.expected === null ? '-' : t.expected.toFixed(3)) + r);
    });
    legend(root, [['#4e79a7', 'actual share (CPUs)'], ['#1d2433', 'expected share from weight (marker)']]);
  }

  function table() {
    var T = D.table, cols = ['pid', 'comm', 'prio', 'weight', 'CPU time', 'share', 'expected',
      'ratio', 'wake p50', 'wake p99', 'delay mean', 'migr', 'vol', 'invol'];
    var fmt = [String, String, String, String, fmtNs,
      function (v) { return v.toFixed(4); }, function (v) { return v.toFixed(4); },
      function (v) { return v.toFixed(2); }, fmtNs, fmtNs, fmtNs, String, String, String];
    var h = '<table><thead><tr>' + cols.map(function (c, i) {
      return '<th' + (i === 1 ? ' class="l"' : '') + '>' + c + '</th>';
    }).join('') + '</tr></thead><tbody>';
    var esc = function (s) { return String(s).replace(/[&<>"]/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); };
    T.rows.forEach(function (r) {
      h += '<tr>' + r.map(function (v, i) {
        var txt = v === null ? '-' : fmt[i](v);
        return '<td' + (i === 1 ? ' class="l"' : '') + '>' + esc(txt) + '</td>';
      }).join('') + '</tr>';
    });
    h += '</tbody></table>';
    if (T.total > T.rows.length) h += '<p class="muted">' + (T.total - T.rows.length) + ' more tasks in the JSON report.</p>';
    $('task-table').innerHTML = h;
  }

  var charts = [['timeline', timeline], ['cdf', cdf], ['dsq', dsq], ['share', share], ['task-table', table]];
  var failed = 0;
  charts.forEach(function (c) {
    try {
      c[1]();
      $(c[0]).setAttribute('data-chart', 'ready');
    } catch (e) {
      failed++;
      window.scxsimError(c[0] + ': ' + (e && e.stack ? e.stack : e));
    }
  });
  if (!failed) document.body.setAttribute('data-rendered', '1');
})();
