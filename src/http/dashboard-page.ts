// The built-in dashboard served at GET / and GET /dashboard: one self-contained page (inline CSS and JS, no
// external fonts, scripts or images) that polls /api/stats every 5 s and draws its own SVG chart.
//
// The browser code lives in template strings, so it must contain no backslash, backtick or dollar-brace:
// strings are joined with +. Every string taken from the JSON goes through esc() before it reaches HTML.

const css = `
:root {
  color-scheme: light dark;
  --bg: #f4f6f9; --card: #ffffff; --border: #e2e7ee; --grid: #edf0f4; --faint: #eef2f6;
  --text: #17202b; --muted: #5f6c7f;
  --accent: #2563eb; --accent-2: #0d9488; --vol: #cfd8e3;
  --ok: #15803d; --ok-bg: #dcfce7; --warn: #b45309; --warn-bg: #fef3c7; --bad: #b91c1c; --bad-bg: #fee2e2;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --card: #161b22; --border: #2a313c; --grid: #222a34; --faint: #222a34;
    --text: #e6edf3; --muted: #8b949e;
    --accent: #58a6ff; --accent-2: #2dd4bf; --vol: #344050;
    --ok: #3fb950; --ok-bg: rgba(63, 185, 80, .15); --warn: #d29922; --warn-bg: rgba(210, 153, 34, .15);
    --bad: #f85149; --bad-bg: rgba(248, 81, 73, .15);
  }
}
* { box-sizing: border-box }
html, body { margin: 0 }
body {
  background: var(--bg); color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Liberation Sans", "DejaVu Sans", Arial, sans-serif;
  font-variant-numeric: tabular-nums;
}
header {
  display: flex; align-items: center; justify-content: space-between; gap: 16px;
  padding: 12px 28px; background: var(--card); border-bottom: 1px solid var(--border);
}
.brand { display: flex; align-items: center; gap: 10px }
.brand svg { display: block }
.brand .logo-bg { fill: var(--accent) }
.brand h1 { font-size: 18px; margin: 0; font-weight: 650; letter-spacing: -0.01em }
.brand .tagline { color: var(--muted); font-size: 13px }
.status { display: flex; align-items: center; gap: 8px; color: var(--muted); font-size: 13px }
.status .dot { width: 8px; height: 8px; border-radius: 50%; background: var(--muted) }
.status.live .dot { background: var(--ok); box-shadow: 0 0 0 3px var(--ok-bg) }
.status.down .dot { background: var(--bad); box-shadow: 0 0 0 3px var(--bad-bg) }
.banner {
  max-width: 1440px; margin: 16px auto 0; padding: 10px 14px; border-radius: 8px;
  background: var(--bad-bg); color: var(--bad); font-weight: 600;
}
.banner[hidden] { display: none }
main { padding: 20px 28px 8px; max-width: 1440px; margin: 0 auto; display: grid; gap: 16px }
.card { background: var(--card); border: 1px solid var(--border); border-radius: 10px; padding: 16px 18px; min-width: 0 }
.exec { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 16px }
.label { color: var(--muted); font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .06em }
.kpi .big { font-size: 40px; font-weight: 650; line-height: 1.1; margin: 8px 0 6px; letter-spacing: -0.02em; white-space: nowrap }
.kpi .sub { color: var(--muted); font-size: 13px }
.meter { height: 6px; background: var(--faint); border-radius: 3px; overflow: hidden; margin: 2px 0 8px }
.meter[hidden] { display: none }
.meter > span { display: block; height: 100%; width: 0; background: var(--accent) }
.meter.warn > span { background: var(--warn) }
.meter.bad > span { background: var(--bad) }
h2 { font-size: 15px; margin: 0; font-weight: 650 }
.card-head { display: flex; justify-content: space-between; align-items: baseline; gap: 12px; flex-wrap: wrap; margin-bottom: 10px }
.hint { color: var(--muted); font-size: 12px; font-weight: 400 }
.legend { display: flex; gap: 16px; font-size: 12px; color: var(--muted) }
.legend i { display: inline-block; width: 16px; height: 0; border-top: 2px solid; vertical-align: middle; margin-right: 6px }
.legend .req { border-color: var(--accent) }
.legend .bytes { border-color: var(--accent-2); border-top-style: dashed }
.legend .vol { border-top: 8px solid var(--vol); width: 10px }
.section-title { font-size: 12px; text-transform: uppercase; letter-spacing: .08em; color: var(--muted); font-weight: 650; margin: 10px 0 -6px }
.strip { display: grid; grid-template-columns: repeat(6, minmax(0, 1fr)); gap: 12px }
.mini { padding: 10px 14px }
.mini .value { font-size: 22px; font-weight: 650; margin-top: 2px }
.mini.warn .value { color: var(--warn) }
.mini.bad .value { color: var(--bad) }
.table-wrap { overflow-x: auto }
table { width: 100%; border-collapse: collapse; font-size: 13px }
th {
  text-align: left; color: var(--muted); font-weight: 600; font-size: 12px; padding: 6px 10px;
  border-bottom: 1px solid var(--border); vertical-align: bottom;
}
td { padding: 8px 10px; border-bottom: 1px solid var(--grid); vertical-align: top }
tbody tr:last-child td { border-bottom: 0 }
th.num, td.num { text-align: right }
td.num { white-space: nowrap }
thead tr.groups th { border-bottom: 0; padding-bottom: 0 }
th.group { text-align: center; padding-bottom: 2px }
th.group span { display: block; border-bottom: 1px solid var(--border); padding-bottom: 3px }
td.none { color: var(--muted); text-align: center; padding: 18px }
.muted { color: var(--muted) }
.strong { font-weight: 600 }
.bad-text { color: var(--bad); font-weight: 600 }
.warn-text { color: var(--warn); font-weight: 600 }
.pill { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px; font-weight: 600; white-space: nowrap }
.pill.ok { color: var(--ok); background: var(--ok-bg) }
.pill.warn { color: var(--warn); background: var(--warn-bg) }
.pill.bad { color: var(--bad); background: var(--bad-bg) }
.pill.idle { color: var(--muted); background: var(--faint) }
.msg { color: var(--muted); font-size: 12px; max-width: 220px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap }
.repo { overflow-wrap: anywhere; min-width: 180px }
td.when { white-space: nowrap }
th.wide { width: 32% }
.repo .reg { color: var(--muted) }
.bar { display: inline-block; width: 70px; height: 6px; background: var(--faint); border-radius: 3px; vertical-align: middle; margin-right: 8px; overflow: hidden }
.bar > span { display: block; height: 100%; background: var(--accent) }
.chart { min-height: 240px }
.chart svg { display: block; width: 100%; height: 240px; overflow: visible }
.chart .grid { stroke: var(--grid); stroke-width: 1 }
.chart .axis { fill: var(--muted); font-size: 11px }
.chart .vol { fill: var(--vol) }
.chart .area-req { fill: var(--accent); opacity: .09 }
.chart .line-req { fill: none; stroke: var(--accent); stroke-width: 2.25; stroke-linejoin: round; stroke-linecap: round }
.chart .line-bytes { fill: none; stroke: var(--accent-2); stroke-width: 2; stroke-dasharray: 6 4; stroke-linejoin: round }
.chart .pt-req { fill: var(--card); stroke: var(--accent); stroke-width: 2 }
.chart .pt-bytes { fill: var(--accent-2) }
.empty { color: var(--muted); padding: 90px 0; text-align: center }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 8px 0 24px }
footer a { color: inherit }
@media (max-width: 1000px) {
  .exec { grid-template-columns: repeat(2, minmax(0, 1fr)) }
  .strip { grid-template-columns: repeat(3, minmax(0, 1fr)) }
}
`

const script = `
'use strict'
;(() => {
  const POLL_MS = 5000
  const byId = (id) => document.getElementById(id)
  const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
  const esc = (value) => String(value).replace(/[&<>"']/g, (c) => ESCAPES[c])
  const setText = (id, text) => { byId(id).textContent = text }
  const setHtml = (id, html) => { byId(id).innerHTML = html }
  const isNum = (n) => typeof n === 'number' && Number.isFinite(n)

  const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  function fmtBytes(n) {
    if (!isNum(n)) return '—'
    let v = n
    let i = 0
    while (Math.abs(v) >= 1024 && i < UNITS.length - 1) { v /= 1024; i++ }
    if (i === 0) return Math.round(v) + ' B'
    return v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2) + ' ' + UNITS[i]
  }
  function fmtPct(r) {
    if (!isNum(r)) return '—'
    if (r >= 1) return '100%'
    if (r <= 0) return '0%'
    if (r < 0.001) return '<0.1%'
    if (r > 0.999) return '>99.9%'
    return (r * 100).toFixed(1) + '%'
  }
  const fmtInt = (n) => (isNum(n) ? Math.round(n).toLocaleString('en-US') : '—')
  const pad = (n) => String(n).padStart(2, '0')
  function fmtClock(ms, seconds) {
    const d = new Date(ms)
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + (seconds ? ':' + pad(d.getSeconds()) : '')
  }
  function fmtAgo(ms, now) {
    if (!isNum(ms)) return 'never'
    const s = Math.max(0, (now - ms) / 1000)
    if (s < 1) return 'just now'
    if (s < 60) return Math.floor(s) + ' s ago'
    if (s < 3600) return Math.floor(s / 60) + ' min ago'
    if (s < 86400) return Math.floor(s / 3600) + ' h ago'
    return Math.floor(s / 86400) + ' d ago'
  }
  function fmtDuration(sec) {
    if (!isNum(sec)) return '—'
    const d = Math.floor(sec / 86400)
    const h = Math.floor((sec % 86400) / 3600)
    const m = Math.floor((sec % 3600) / 60)
    if (d > 0) return d + ' d' + (h > 0 ? ' ' + h + ' h' : '')
    if (h > 0) return h + ' h' + (m > 0 ? ' ' + m + ' min' : '')
    if (m > 0) return m + ' min'
    return Math.floor(sec) + ' s'
  }
  const cachedOf = (c) => c.hits + c.revalidated + c.stale + c.coalesced

  // "76;w=21600" -> { count: 76, window: 21600 }
  function parseLimit(value) {
    if (typeof value !== 'string') return null
    const count = Number.parseInt(value, 10)
    const w = /w=([0-9]+)/.exec(value)
    return { count: Number.isFinite(count) ? count : null, window: w ? Number(w[1]) : null, raw: value }
  }
  function rateLimitCell(h) {
    const remaining = parseLimit(h.ratelimitRemaining)
    if (!remaining) return '<span class="muted">not reported</span>'
    const limit = parseLimit(h.ratelimitLimit)
    if (remaining.count === null) return esc(remaining.raw)
    let cls = 'strong'
    if (limit && limit.count) {
      const share = remaining.count / limit.count
      cls = share < 0.1 ? 'bad-text' : share < 0.25 ? 'warn-text' : 'strong'
    }
    let html = '<span class="' + cls + '">' + esc(fmtInt(remaining.count)) + '</span>'
    if (limit && limit.count !== null) html += '<span class="muted"> / ' + esc(fmtInt(limit.count)) + '</span>'
    const window = remaining.window ?? (limit ? limit.window : null)
    if (window) html += '<div class="muted">per ' + esc(fmtDuration(window)) + '</div>'
    return html
  }
  function healthOf(h) {
    if (h.consecutiveFailures >= 3) return { cls: 'bad', text: 'failing' }
    if (h.consecutiveFailures > 0) return { cls: 'warn', text: 'degraded' }
    if (isNum(h.lastOkMs)) return { cls: 'ok', text: 'healthy' }
    return { cls: 'idle', text: 'not contacted' }
  }
  function ratioBar(r) {
    const w = isNum(r) ? Math.round(Math.max(0, Math.min(1, r)) * 100) : 0
    return '<span class="bar"><span style="width:' + w + '%"></span></span>' + esc(fmtPct(r))
  }

  function renderExec(s) {
    const t = s.totals
    const answered = t.requests - t.errors
    setText('hit-ratio', fmtPct(t.hitRatio))
    setText('hit-ratio-sub', fmtInt(cachedOf(t)) + ' of ' + fmtInt(answered) + ' requests answered from cache')
    setText('byte-hit-ratio', fmtPct(t.byteHitRatio))
    setText('byte-hit-ratio-sub', fmtBytes(t.bytesFromCache) + ' of ' + fmtBytes(t.bytesFromCache + t.bytesFromUpstream) + ' served came from disk')
    setText('bytes-saved', fmtBytes(t.bytesFromCache))
    setText('bytes-saved-sub', 'not downloaded again; ' + fmtBytes(t.bytesFromUpstream) + ' fetched from upstream')
    const disk = s.disk
    setText('disk-used', fmtBytes(disk.usedBytes))
    const meter = byId('disk-meter')
    if (isNum(disk.maxBytes) && disk.maxBytes > 0) {
      const share = disk.usedBytes / disk.maxBytes
      meter.hidden = false
      meter.className = 'meter' + (share >= 0.95 ? ' bad' : share >= 0.85 ? ' warn' : '')
      meter.firstElementChild.style.width = Math.min(100, share * 100).toFixed(1) + '%'
      setText('disk-sub', fmtPct(share) + ' of the ' + fmtBytes(disk.maxBytes) + ' budget · ' + fmtInt(disk.blobCount) + ' blobs')
    } else {
      meter.hidden = true
      setText('disk-sub', fmtInt(disk.blobCount) + ' blobs · no disk budget set')
    }
  }

  function mini(id, value, cls) {
    const el = byId(id)
    el.querySelector('.value').textContent = value
    el.className = 'card mini' + (cls ? ' ' + cls : '')
  }
  function renderStrip(s) {
    const t = s.totals
    const failing = s.registries.filter((r) => r.health.consecutiveFailures > 0).length
    mini('fills', fmtInt(s.fillsInFlight), '')
    mini('upstreams-failing', fmtInt(failing) + ' of ' + fmtInt(s.registries.length), failing > 0 ? 'bad' : '')
    mini('errors', fmtInt(t.errors), t.errors > 0 ? 'bad' : '')
    mini('stale', fmtInt(t.stale), t.stale > 0 ? 'warn' : '')
    mini('requests', fmtInt(t.requests), '')
    mini('uptime', fmtDuration(s.uptimeSeconds), '')
  }

  function renderRegistries(s, now) {
    const rows = s.registries.map((r) => {
      const h = r.health
      const state = healthOf(h)
      const failure = isNum(h.lastFailureMs)
        ? esc(fmtAgo(h.lastFailureMs, now)) + (h.lastFailure ? '<div class="msg" title="' + esc(h.lastFailure) + '">' + esc(h.lastFailure) + '</div>' : '')
        : '<span class="muted">never</span>'
      const streak = h.consecutiveFailures
      return '<tr data-registry="' + esc(r.registry) + '">' +
        '<td class="strong">' + esc(r.registry) + '</td>' +
        '<td><span class="pill ' + state.cls + '">' + esc(state.text) + '</span></td>' +
        '<td class="num">' + esc(fmtPct(r.hitRatio)) + '</td>' +
        '<td class="num">' + esc(fmtPct(r.byteHitRatio)) + '</td>' +
        '<td class="num">' + esc(fmtInt(r.requests)) + '</td>' +
        '<td class="num">' + esc(fmtBytes(r.bytesFromCache)) + '</td>' +
        '<td class="num' + (r.errors > 0 ? ' bad-text' : '') + '">' + esc(fmtInt(r.errors)) + '</td>' +
        '<td class="when" title="' + esc(isNum(h.lastOkMs) ? new Date(h.lastOkMs).toLocaleString() : '') + '">' + esc(fmtAgo(h.lastOkMs, now)) + '</td>' +
        '<td class="when" title="' + esc(isNum(h.lastFailureMs) ? new Date(h.lastFailureMs).toLocaleString() : '') + '">' + failure + '</td>' +
        '<td class="num' + (streak >= 3 ? ' bad-text' : streak > 0 ? ' warn-text' : '') + '">' + esc(fmtInt(streak)) + '</td>' +
        '<td class="num">' + rateLimitCell(h) + '</td>' +
        '</tr>'
    })
    setHtml('registries-body', rows.length ? rows.join('') : '<tr><td class="none" colspan="11">No upstream registries configured</td></tr>')
  }

  function renderRepositories(s) {
    const rows = s.topRepositories.map((r, i) =>
      '<tr>' +
        '<td class="num muted">' + (i + 1) + '</td>' +
        '<td class="repo"><span class="reg">' + esc(r.registry) + '/</span><span class="strong">' + esc(r.repository) + '</span></td>' +
        '<td class="num">' + esc(fmtInt(r.requests)) + '</td>' +
        '<td class="num">' + ratioBar(r.hitRatio) + '</td>' +
        '<td class="num">' + esc(fmtPct(r.byteHitRatio)) + '</td>' +
        '<td class="num">' + esc(fmtBytes(r.bytesFromCache)) + '</td>' +
        '<td class="num">' + esc(fmtBytes(r.bytesFromUpstream)) + '</td>' +
        '<td class="num' + (r.errors > 0 ? ' bad-text' : '') + '">' + esc(fmtInt(r.errors)) + '</td>' +
      '</tr>')
    setHtml('repos-body', rows.length ? rows.join('') : '<tr><td class="none" colspan="8">No pulls yet</td></tr>')
  }

  // Per interval between neighbouring cumulative samples: requests, request hit ratio, byte hit ratio.
  function intervals(history) {
    const out = []
    for (let i = 1; i < history.length; i++) {
      const a = history[i - 1]
      const b = history[i]
      const n = b.requests - a.requests
      const cached = b.cached - a.cached
      const fromCache = b.bytesFromCache - a.bytesFromCache
      const bytes = fromCache + (b.bytesFromUpstream - a.bytesFromUpstream)
      if (n < 0 || bytes < 0) continue // counters restarted
      out.push({ t0: a.t, t1: b.t, n, r: n > 0 ? cached / n : null, br: bytes > 0 ? fromCache / bytes : null })
    }
    return out
  }

  const STEPS = [1, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600].map((s) => s * 1000)
  function timeTicks(t0, t1) {
    const span = t1 - t0
    const step = STEPS.find((s) => span / s <= 6) ?? STEPS[STEPS.length - 1]
    const ticks = []
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) ticks.push(t)
    return { ticks, seconds: step < 60000 }
  }

  function drawChart(history) {
    const box = byId('chart')
    const iv = intervals(history)
    const points = iv.filter((d) => d.r !== null).length
    byId('chart-hint').textContent = iv.length
      ? 'per sample interval · last ' + fmtDuration(Math.max(1, (history[history.length - 1].t - history[0].t) / 1000))
      : ''
    if (points === 0) {
      box.innerHTML = '<div class="empty">No requests in the recorded history yet</div>'
      return
    }
    const W = Math.max(360, Math.round(box.clientWidth))
    const H = 240
    const m = { l: 46, r: 14, t: 10, b: 24 }
    const volH = 36
    const gap = 14
    const plotH = H - m.t - m.b - volH - gap
    const tMin = history[0].t
    const tMax = history[history.length - 1].t
    const span = Math.max(1, tMax - tMin)
    const x = (t) => m.l + ((t - tMin) / span) * (W - m.l - m.r)
    const y = (r) => m.t + (1 - r) * plotH
    const volBase = m.t + plotH + gap + volH
    const f = (v) => v.toFixed(1)
    const parts = []
    for (const p of [0, 0.25, 0.5, 0.75, 1]) {
      parts.push('<line class="grid" x1="' + m.l + '" x2="' + (W - m.r) + '" y1="' + f(y(p)) + '" y2="' + f(y(p)) + '"></line>')
      parts.push('<text class="axis" x="' + (m.l - 8) + '" y="' + f(y(p) + 4) + '" text-anchor="end">' + p * 100 + '%</text>')
    }
    const maxN = Math.max(1, ...iv.map((d) => d.n))
    parts.push('<line class="grid" x1="' + m.l + '" x2="' + (W - m.r) + '" y1="' + volBase + '" y2="' + volBase + '"></line>')
    parts.push('<text class="axis" x="' + (m.l - 8) + '" y="' + (volBase - volH + 9) + '" text-anchor="end">' + esc(fmtInt(maxN)) + '</text>')
    parts.push('<text class="axis" x="' + (m.l - 8) + '" y="' + volBase + '" text-anchor="end">req</text>')
    for (const d of iv) {
      if (d.n === 0) continue
      const x0 = x(d.t0)
      const w = Math.max(1.5, x(d.t1) - x0 - 1)
      const h = Math.max(1, (d.n / maxN) * volH)
      parts.push('<rect class="vol" x="' + f(x0 + 0.5) + '" y="' + f(volBase - h) + '" width="' + f(w) + '" height="' + f(h) + '" rx="1"><title>' +
        esc(fmtClock(d.t0, true) + '–' + fmtClock(d.t1, true) + ': ' + fmtInt(d.n) + ' requests') + '</title></rect>')
    }
    // Lines break where an interval had no requests (no ratio to draw).
    const series = (key) => {
      const segments = []
      let current = []
      for (const d of iv) {
        if (d[key] === null) {
          if (current.length) segments.push(current)
          current = []
        } else {
          current.push([x((d.t0 + d.t1) / 2), y(d[key]), d])
        }
      }
      if (current.length) segments.push(current)
      return segments
    }
    const pathOf = (seg) => seg.map((p, i) => (i ? 'L' : 'M') + f(p[0]) + ' ' + f(p[1])).join(' ')
    const req = series('r')
    const bytes = series('br')
    for (const seg of req) {
      if (seg.length > 1) {
        parts.push('<path class="area-req" d="' + pathOf(seg) + ' L' + f(seg[seg.length - 1][0]) + ' ' + f(y(0)) + ' L' + f(seg[0][0]) + ' ' + f(y(0)) + ' Z"></path>')
      }
    }
    for (const seg of bytes) if (seg.length > 1) parts.push('<path class="line-bytes" d="' + pathOf(seg) + '"></path>')
    for (const seg of req) if (seg.length > 1) parts.push('<path class="line-req" d="' + pathOf(seg) + '"></path>')
    const dots = points <= 90
    for (const seg of bytes) {
      for (const p of seg) {
        if (dots || seg.length === 1) parts.push('<circle class="pt-bytes" cx="' + f(p[0]) + '" cy="' + f(p[1]) + '" r="2.5"></circle>')
      }
    }
    for (const seg of req) {
      for (const p of seg) {
        if (!dots && seg.length > 1) continue
        const d = p[2]
        parts.push('<circle class="pt-req" cx="' + f(p[0]) + '" cy="' + f(p[1]) + '" r="3.5"><title>' +
          esc(fmtClock(d.t0, true) + '–' + fmtClock(d.t1, true) + ': ' + fmtPct(d.r) + ' of ' + fmtInt(d.n) + ' requests, ' + fmtPct(d.br) + ' of bytes from cache') +
          '</title></circle>')
      }
    }
    const { ticks, seconds } = timeTicks(tMin, tMax)
    const labels = [{ t: tMin, anchor: 'start' }]
    for (const t of ticks) {
      if (x(t) - x(tMin) > 60 && x(tMax) - x(t) > 60) labels.push({ t, anchor: 'middle' })
    }
    labels.push({ t: tMax, anchor: 'end', text: 'now' })
    for (const l of labels) {
      parts.push('<text class="axis" x="' + f(x(l.t)) + '" y="' + (H - 6) + '" text-anchor="' + l.anchor + '">' + esc(l.text ?? fmtClock(l.t, seconds || l.anchor === 'start')) + '</text>')
    }
    box.innerHTML = '<svg viewBox="0 0 ' + W + ' ' + H + '" width="' + W + '" height="' + H + '" role="img" aria-label="Hit ratio per sample interval" data-points="' + points + '">' + parts.join('') + '</svg>'
  }

  let last = null
  let lastOkMs = null

  function render(s) {
    const now = Date.parse(s.generatedAt)
    renderExec(s)
    renderStrip(s)
    renderRegistries(s, now)
    renderRepositories(s)
    drawChart(s.history)
    document.title = 'Dockside · ' + fmtPct(s.totals.hitRatio) + ' hits'
    document.body.dataset.updated = s.generatedAt
  }

  function setStatus(ok, detail) {
    const status = byId('status')
    const banner = byId('banner')
    status.className = 'status ' + (ok ? 'live' : 'down')
    if (ok) {
      setText('status-text', 'Live · updated ' + fmtClock(lastOkMs, true) + ' · every 5 s')
      banner.hidden = true
    } else {
      const since = lastOkMs === null ? 'no data yet' : 'showing data from ' + fmtClock(lastOkMs, true)
      setText('status-text', 'Offline · ' + since)
      banner.textContent = 'Cannot read /api/stats (' + detail + '); ' + since + '.'
      banner.hidden = false
    }
  }

  async function poll() {
    try {
      const res = await fetch('api/stats', { cache: 'no-store', headers: { accept: 'application/json' } })
      if (!res.ok) throw new Error('HTTP ' + res.status)
      const snapshot = await res.json()
      last = snapshot
      lastOkMs = Date.now()
      render(snapshot)
      setStatus(true, '')
    } catch (err) {
      setStatus(false, err && err.message ? err.message : String(err))
    } finally {
      setTimeout(poll, POLL_MS)
    }
  }

  let resizeTimer = 0
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer)
    resizeTimer = setTimeout(() => { if (last) drawChart(last.history) }, 100)
  })
  poll()
})()
`

const logo = `<svg width="26" height="26" viewBox="0 0 26 26" aria-hidden="true">
<rect class="logo-bg" x="1" y="1" width="24" height="24" rx="6"></rect>
<rect x="5" y="7" width="7" height="5" rx="1" fill="#fff" opacity=".95"></rect>
<rect x="14" y="7" width="7" height="5" rx="1" fill="#fff" opacity=".7"></rect>
<rect x="5" y="14" width="16" height="5" rx="1" fill="#fff" opacity=".85"></rect>
</svg>`

/** The whole dashboard page, served as is (text/html; charset=utf-8). */
export const dashboardHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>Dockside</title>
<style>${css}</style>
</head>
<body>
<header>
  <div class="brand">${logo}<h1>Dockside</h1><span class="tagline">pull-through registry cache</span></div>
  <div id="status" class="status"><span class="dot"></span><span id="status-text">Loading…</span></div>
</header>
<div id="banner" class="banner" role="alert" hidden></div>
<main>
  <section class="exec" aria-label="Summary">
    <div class="card kpi">
      <div class="label">Hit ratio · requests</div>
      <div class="big" id="hit-ratio">—</div>
      <div class="sub" id="hit-ratio-sub"></div>
    </div>
    <div class="card kpi">
      <div class="label">Hit ratio · bytes</div>
      <div class="big" id="byte-hit-ratio">—</div>
      <div class="sub" id="byte-hit-ratio-sub"></div>
    </div>
    <div class="card kpi">
      <div class="label">Saved from upstream</div>
      <div class="big" id="bytes-saved">—</div>
      <div class="sub" id="bytes-saved-sub"></div>
    </div>
    <div class="card kpi">
      <div class="label">Disk used</div>
      <div class="big" id="disk-used">—</div>
      <div class="meter" id="disk-meter" hidden><span></span></div>
      <div class="sub" id="disk-sub"></div>
    </div>
  </section>

  <section class="card" aria-label="Hit ratio over time">
    <div class="card-head">
      <h2>Hit ratio over time <span class="hint" id="chart-hint"></span></h2>
      <div class="legend">
        <span><i class="req"></i>by requests</span>
        <span><i class="bytes"></i>by bytes</span>
        <span><i class="vol"></i>requests per interval</span>
      </div>
    </div>
    <div id="chart" class="chart"><div class="empty">Loading…</div></div>
  </section>

  <div class="section-title">On call</div>
  <section class="strip" aria-label="On-call figures">
    <div class="card mini" id="upstreams-failing"><div class="label">Upstreams failing</div><div class="value">—</div></div>
    <div class="card mini" id="fills"><div class="label">Fills in flight</div><div class="value">—</div></div>
    <div class="card mini" id="errors"><div class="label">Errors</div><div class="value">—</div></div>
    <div class="card mini" id="stale"><div class="label">Served stale</div><div class="value">—</div></div>
    <div class="card mini" id="requests"><div class="label">Requests</div><div class="value">—</div></div>
    <div class="card mini" id="uptime"><div class="label">Uptime</div><div class="value">—</div></div>
  </section>

  <section class="card" aria-label="Upstream registries">
    <div class="card-head"><h2>Upstream registries</h2><span class="hint">health from the last answers; rate limit as the registry last reported it</span></div>
    <div class="table-wrap">
      <table id="registries">
        <thead>
          <tr class="groups"><th colspan="2"></th><th class="group" colspan="2"><span>Hit ratio</span></th><th colspan="7"></th></tr>
          <tr>
            <th>Registry</th><th>Health</th><th class="num">requests</th><th class="num">bytes</th>
            <th class="num">Requests</th><th class="num">Saved</th><th class="num">Errors</th>
            <th>Last OK</th><th>Last failure</th><th class="num">Failures in a row</th><th class="num">Rate limit left</th>
          </tr>
        </thead>
        <tbody id="registries-body"></tbody>
      </table>
    </div>
  </section>

  <section class="card" aria-label="Top repositories">
    <div class="card-head"><h2>Top repositories</h2><span class="hint">by requests</span></div>
    <div class="table-wrap">
      <table id="top-repos">
        <thead>
          <tr class="groups"><th colspan="3"></th><th class="group" colspan="2"><span>Hit ratio</span></th><th colspan="3"></th></tr>
          <tr>
            <th class="num">#</th><th class="wide">Repository</th><th class="num">Requests</th><th class="num">requests</th>
            <th class="num">bytes</th><th class="num">From cache</th><th class="num">From upstream</th><th class="num">Errors</th>
          </tr>
        </thead>
        <tbody id="repos-body"></tbody>
      </table>
    </div>
  </section>
</main>
<footer>Figures from <a href="api/stats">/api/stats</a> · Prometheus metrics at <a href="metrics">/metrics</a></footer>
<script>${script}</script>
</body>
</html>
`
