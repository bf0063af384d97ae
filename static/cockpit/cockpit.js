// The cockpit (templates/cockpit/account.html, desk.html): renders the snapshot the page embeds
// (json_script, so it shows data before any socket), then applies the events pushed over the
// websocket. The websocket is never the source of truth: every message carries its stream's
// sequence number; a gap, a reconnect or a message before the first snapshot's number fetches
// the snapshot again and replaces everything. Rendering is batched per animation frame, each
// table built as one string and set with one innerHTML (500 positions, 2,000 orders).
// Buttons POST with the CSRF token; the page never updates from their answer, only from the
// pushed kill switch / order / fill messages (or a resync).
(function () {
  "use strict";

  const root = document.getElementById("cockpit");
  if (!root) return;
  const MAX_FILLS = 200;
  const MAX_CYCLES = 50;
  const MAX_RECONCILIATIONS = 20;
  const OPEN_ORDER = new Set(["pending_new", "submitted", "accepted", "partially_filled", "pending_cancel"]);
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 10000;

  // ---------- formatting ----------
  const esc = (v) =>
    v === null || v === undefined
      ? ""
      : String(v).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const dash = "—";
  const num = (v) => (v === null || v === undefined || v === "" ? null : Number(v));
  const fmtMoney = (v) => {
    const n = num(v);
    return n === null ? dash : n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  };
  const fmtQty = (v) => (v === null || v === undefined ? dash : esc(v));
  // Prices as computed (an average cost may carry many digits): at most 4 decimals on screen.
  const fmtPrice = (v) => {
    const n = num(v);
    return n === null ? dash : n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 4 });
  };
  const fmtPct = (v, digits = 2) => (v === null || v === undefined ? dash : `${(Number(v) * 100).toFixed(digits)} %`);
  const fmtBps = (v) => (v === null || v === undefined ? dash : Number(v).toFixed(1));
  const fmtTime = (v) => (v ? esc(String(v).replace("T", " ").replace(/(\.\d+)?Z$/, "Z")) : dash);
  const sign = (v) => (num(v) === null ? "" : num(v) > 0 ? "pos" : num(v) < 0 ? "neg" : "");
  const field = (name) => root.querySelector(`[data-field="${name}"]`);
  const setText = (name, text, cls) => {
    const el = field(name);
    if (!el) return;
    el.textContent = text;
    if (cls !== undefined) el.className = `v ${cls}`;
  };
  const tbody = (id) => document.querySelector(`#${id} tbody`);

  // ---------- the kill switch badge: a colour nobody can miss ----------
  const SWITCH_CLASS = { active: "ks-active", stopped: "ks-amber", flattening: "ks-amber", flat: "ks-grey", halted: "ks-red" };
  const switchBadge = (state, big) =>
    `<span class="ks ${SWITCH_CLASS[state] || "ks-grey"}${big ? " ks-big" : ""}" data-state="${esc(state)}">${esc(
      String(state || "unknown").toUpperCase()
    )}</span>`;

  let socketOpen = false;
  const CHECK_LABEL = { data_age_s: "data age", queue_depth: "queue depth", last_reconciliation: "last reconciliation" };
  const stats = {
    // performance.now() figures the browser tests read (window.cockpit.stats)
    firstRenderMs: null, // performance.now() (from navigation start) once the snapshot is rendered
    firstPaintMs: null, // ... and painted
    sectionMs: {}, // the last render time of each section
    renders: 0,
    lastRenderMs: 0,
    maxRenderMs: 0,
    applied: 0,
    resyncs: 0,
    gaps: 0,
    connects: 0,
    lastAppliedAt: null,
  };

  // =====================================================================================
  // The desk overview (/cockpit/): every account's headline and switch, the desk switch, health.
  // =====================================================================================
  if (root.dataset.page === "desk") {
    let overview = JSON.parse(document.getElementById("cockpit-desk").textContent);
    const renderDesk = () => {
      const t0 = performance.now();
      const ks = overview.kill_switch || {};
      document.getElementById("desk-switch").innerHTML = switchBadge(ks.state || ks.desk_state, true);
      const health = overview.health || {};
      const hb = document.getElementById("desk-health");
      if (hb) hb.innerHTML = `<span class="badge ${esc(health.state)}">${esc(health.state || "unknown")}</span>`;
      const rows = (overview.accounts || []).map((a) => {
        const h = a.headline || {};
        const name = (a.account && a.account.name) || a.name;
        return `<tr data-account="${esc(name)}"><td><a href="${esc(root.dataset.accountBase)}${encodeURIComponent(name)}/">${esc(name)}</a></td>
<td>${switchBadge((a.kill_switch || {}).state)}</td><td class="num">${fmtMoney(h.equity)}</td>
<td class="num ${sign(h.pnl_today)}">${fmtMoney(h.pnl_today)} (${fmtPct(h.pnl_today_pct)})</td>
<td class="num ${sign(h.pnl_since_inception)}">${fmtMoney(h.pnl_since_inception)}</td><td class="num">${fmtPct(h.drawdown)}</td>
<td class="num">${fmtMoney(h.gross_exposure)}</td><td class="num">${fmtMoney(h.cash)}</td><td class="num">${h.positions ?? dash}</td>
<td>${esc(h.governor_state || dash)}</td><td>${fmtTime(h.as_of)}</td></tr>`;
      });
      tbody("desk-accounts").innerHTML = rows.join("") || `<tr><td colspan="11" class="muted">No trading account.</td></tr>`;
      stats.lastRenderMs = performance.now() - t0;
      stats.renders += 1;
    };
    renderDesk();
    stats.firstRenderMs = performance.now();
    // Any desk event: reload the overview (at most once a second); the socket only says "changed".
    let timer = null;
    const refresh = () => {
      if (timer) return;
      timer = setTimeout(async () => {
        timer = null;
        try {
          const resp = await fetch(root.dataset.snapshotUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
          if (resp.ok) {
            overview = await resp.json();
            stats.resyncs += 1;
            renderDesk();
          }
        } catch (err) {
          /* the next event or reconnect retries */
        }
      }, 1000);
    };
    connect(root.dataset.wsUrl, () => refresh(), () => refresh());
    window.cockpit = { stats };
    return;
  }

  // =====================================================================================
  // One account (/cockpit/<account>/).
  // =====================================================================================
  const accountStream = root.dataset.stream; // "account.<pk>"
  let snap = JSON.parse(document.getElementById("cockpit-snapshot").textContent);
  const seqs = {}; // stream -> last seq applied
  let positions = new Map(); // symbol -> row
  let orders = new Map(); // id -> open order row
  const dirty = new Set();
  let frame = null;
  let resyncing = null; // the pending snapshot fetch
  let buffered = []; // messages received while a snapshot is fetched

  const adopt = (s) => {
    snap = s;
    seqs[accountStream] = typeof s.seq === "object" && s.seq !== null ? s.seq[accountStream] ?? 0 : s.seq ?? 0;
    if (s.seqs) Object.assign(seqs, s.seqs); // per stream, when the snapshot states them
    positions = new Map((s.positions || []).map((p) => [p.symbol, p]));
    orders = new Map((s.open_orders || []).map((o) => [o.id, o]));
    snap.fills = s.fills || [];
    snap.cycles = s.cycles || [];
    snap.reconciliations = s.reconciliations || [];
    snap.series = s.series || { equity: [], drawdown: [], sector_exposure: {} };
    // Charts first: they read their box's width, which must not force the layout of the tables.
    for (const k of ["charts", "headline", "kill_switch", "buttons", "health", "alerts", "model", "positions", "orders", "fills", "cycles", "reconciliations"])
      dirty.add(k);
  };

  // ---------- rows ----------
  const positionRow = (p) =>
    `<tr data-symbol="${esc(p.symbol)}"><td class="mono">${esc(p.symbol)}</td><td class="num">${fmtQty(p.qty)}</td><td class="num">${fmtPrice(
            p.avg_cost
          )}</td><td class="num">${fmtPrice(p.last)}</td><td class="num">${fmtMoney(p.market_value)}</td><td class="num ${sign(
            p.unrealised_pnl
          )}">${fmtMoney(p.unrealised_pnl)}</td><td class="num">${fmtPct(p.weight)}</td><td class="num">${fmtPct(p.target_weight)}</td></tr>`;
  const fillRow = (f) =>
    `<tr data-execution="${esc(f.execution_id)}"><td>${fmtTime(f.at)}</td><td class="mono">${esc(f.symbol)}</td><td>${esc(
            f.side
          )}</td><td class="num">${fmtQty(f.qty)}</td><td class="num">${fmtPrice(f.price)}</td><td class="num">${fmtPrice(
            f.fee
          )}</td><td class="num ${sign(-(f.shortfall_decision_bps || 0))}">${fmtBps(f.shortfall_decision_bps)}</td><td class="num">${fmtBps(
            f.shortfall_arrival_bps
          )}</td><td class="mono">${esc(f.client_order_id)}</td></tr>`;
  const orderRow = (o) =>
    `<tr data-order="${o.id}"><td class="mono">${esc(o.client_order_id)}</td><td class="mono">${esc(o.symbol)}</td><td>${esc(
            o.side
          )}</td><td class="num">${fmtQty(o.qty)}</td><td class="num">${fmtQty(o.filled_qty)}</td><td>${esc(o.type)}${
            o.limit_price ? ` @ ${esc(o.limit_price)}` : ""
          }</td><td><span class="badge ${esc(o.status)}">${esc(o.status)}</span></td><td>${fmtTime(o.bar_time)}</td><td>${fmtTime(
            o.submitted_at
          )}</td></tr>`;

  // One pushed row: patched in place (one <tr>), not the whole table, unless the table is redrawn
  // anyway this frame. table id -> Map(key -> row, or null: remove it).
  const patches = { positions: new Map(), "open-orders": new Map() };
  const PATCH = {
    positions: { attr: "data-symbol", html: positionRow, whole: "positions", count: () => positions.size, counter: "positions-count" },
    "open-orders": { attr: "data-order", html: orderRow, whole: "orders", count: () => orders.size, counter: "orders-count" },
  };
  const scratch = document.createElement("tbody");
  function patchRows(table) {
    const spec = PATCH[table];
    const body = tbody(table);
    for (const [key, row] of patches[table]) {
      const old = body.querySelector(`tr[${spec.attr}="${CSS.escape(String(key))}"]`);
      if (row === null) {
        if (old) old.remove();
        continue;
      }
      scratch.innerHTML = spec.html(row);
      const tr = scratch.firstElementChild;
      if (old) old.replaceWith(tr);
      else {
        const empty = body.querySelector("tr.empty");
        if (empty) empty.remove();
        if (table === "open-orders") body.prepend(tr); // the newest order first
        else body.append(tr);
      }
    }
    patches[table].clear();
    if (!body.rows.length) dirty.add(spec.whole);
    document.getElementById(spec.counter).textContent = String(spec.count());
  }
  // A long table: its first rows in this frame (on screen at once), the rest appended in the next
  // tasks, so the first paint does not wait for the layout of 2,000 rows.
  const FIRST_ROWS = 60;
  const CHUNK_ROWS = 500;
  const filling = {}; // table id -> the token of its unfinished fill
  function fillTable(table, html, emptyRow) {
    const body = tbody(table);
    const token = {};
    filling[table] = token;
    body.innerHTML = html.slice(0, FIRST_ROWS).join("") || emptyRow;
    let at = FIRST_ROWS;
    const more = () => {
      if (filling[table] !== token) return; // redrawn since
      if (at >= html.length) {
        delete filling[table];
        stats.filledAt = performance.now();
        return;
      }
      body.insertAdjacentHTML("beforeend", html.slice(at, at + CHUNK_ROWS).join(""));
      at += CHUNK_ROWS;
      setTimeout(more, 0);
    };
    if (html.length > FIRST_ROWS) setTimeout(more, 0);
    else delete filling[table];
  }
  const patch = (table, key, row) => {
    if (filling[table]) dirty.add(PATCH[table].whole); // rows still being appended: redraw it
    else if (!dirty.has(PATCH[table].whole)) patches[table].set(key, row);
    if (frame === null) frame = requestAnimationFrame(flush);
  };

  // ---------- renderers (one innerHTML per table) ----------
  const renderers = {
    headline() {
      const h = snap.headline || {};
      setText("equity", fmtMoney(h.equity));
      setText("pnl_today", fmtMoney(h.pnl_today), sign(h.pnl_today));
      setText("pnl_today_pct", fmtPct(h.pnl_today_pct));
      field("pnl_today_pct").className = `small ${sign(h.pnl_today)}`;
      setText("pnl_since_inception", fmtMoney(h.pnl_since_inception), sign(h.pnl_since_inception));
      setText("drawdown", fmtPct(h.drawdown), num(h.drawdown) < 0 ? "neg" : "");
      setText("gross_exposure", fmtMoney(h.gross_exposure));
      setText("cash", fmtMoney(h.cash));
      setText("positions", String(h.positions ?? positions.size));
      setText("governor_state", h.governor_state || dash);
      setText("as_of", h.as_of ? `as of ${fmtTime(h.as_of)}` : "no mark yet");
    },
    kill_switch() {
      const ks = snap.kill_switch || {};
      document.getElementById("ks-badge").innerHTML = switchBadge(ks.state, true);
      const parts = [];
      if (ks.account_state) parts.push(`account ${String(ks.account_state).toUpperCase()}`);
      if (ks.desk_state) parts.push(`desk ${String(ks.desk_state).toUpperCase()}`);
      if (ks.reason) parts.push(`“${ks.reason}”`);
      if (ks.changed_at) parts.push(`since ${fmtTime(ks.changed_at)}`);
      document.getElementById("ks-detail").textContent = parts.join(" · ");
    },
    positions() {
      const rows = Array.from(positions.values()).sort(
        (a, b) => Math.abs(num(b.market_value) || 0) - Math.abs(num(a.market_value) || 0) || (a.symbol < b.symbol ? -1 : 1)
      );
      const html = rows.map(positionRow);
      fillTable("positions", html, `<tr class="empty"><td colspan="8" class="muted">No position.</td></tr>`);
      document.getElementById("positions-count").textContent = String(rows.length);
    },
    orders() {
      const rows = Array.from(orders.values()).sort((a, b) => b.id - a.id);
      const html = rows.map(orderRow);
      fillTable("open-orders", html, `<tr class="empty"><td colspan="9" class="muted">No open order.</td></tr>`);
      document.getElementById("orders-count").textContent = String(rows.length);
    },
    fills() {
      const html = snap.fills.map(fillRow);
      tbody("fills").innerHTML = html.join("") || `<tr class="empty"><td colspan="9" class="muted">No fill yet.</td></tr>`;
    },
    cycles() {
      const html = snap.cycles.map((c) => {
        const refusals = Object.entries(c.refusals || {})
          .map(([code, n]) => `<span class="badge warn">${esc(code)} × ${esc(n)}</span>`)
          .join(" ");
        return `<tr data-cycle="${c.id}"><td>${fmtTime(c.bar_time)}</td><td><span class="badge ${esc(c.status)}">${esc(
          c.status
        )}</span></td><td>${esc(c.step)}</td><td class="num">${c.duration_ms === null || c.duration_ms === undefined ? dash : Number(c.duration_ms).toFixed(0)}</td><td class="num">${esc(
          c.orders
        )}</td><td>${refusals || dash}</td><td class="muted">${esc(c.reason)}</td></tr>`;
      });
      tbody("cycles").innerHTML = html.join("") || `<tr class="empty"><td colspan="7" class="muted">No cycle yet.</td></tr>`;
    },
    reconciliations() {
      const html = snap.reconciliations.map(
        (r) =>
          `<tr><td>${fmtTime(r.at)}</td><td>${esc(r.trigger)}</td><td><span class="badge ${r.ok ? "ok" : "failed"}">${
            r.ok ? "ok" : "break"
          }</span></td><td>${(r.breaks || []).map((b) => esc(typeof b === "string" ? b : JSON.stringify(b))).join("<br>") || dash}</td><td class="num">${esc(
            r.recovered_fills
          )}</td><td class="num">${esc(r.resolved_orders)}</td></tr>`
      );
      tbody("reconciliations").innerHTML = html.join("") || `<tr class="empty"><td colspan="6" class="muted">No reconciliation yet.</td></tr>`;
    },
    health() {
      const h = snap.health || { state: "unknown", checks: {} };
      document.getElementById("health-state").innerHTML = `<span class="badge ${esc(h.state)}">${esc(h.state)}</span>`;
      const html = Object.entries(h.checks || {}).map(
        ([name, c]) =>
          `<li data-check="${esc(name)}"><span class="dot ${c.ok ? "ok" : "bad"}"></span><b>${esc(CHECK_LABEL[name] || name.replace(/_/g, " "))}</b> <span class="muted">${esc(
            c.detail
          )}</span></li>`
      );
      document.getElementById("health-checks").innerHTML = html.join("");
    },
    alerts() {
      const alerts = snap.alerts || [];
      const html = alerts.map(
        (a) =>
          `<li><span class="badge ${a.severity === "critical" ? "failed" : a.severity === "warning" ? "warn" : ""}">${esc(
            a.severity || "info"
          )}</span> ${esc(a.kind || "")} <span class="msg" title="${esc(a.message || "")}">${esc(a.message || "")}</span> <span class="muted">${fmtTime(a.raised_at || a.last_seen)}</span></li>`
      );
      document.getElementById("alerts").innerHTML = html.join("") || `<li class="muted">No open alert.</li>`;
      document.getElementById("alerts-count").textContent = String(alerts.length);
    },
    model() {
      const m = snap.model;
      const el = document.getElementById("model");
      if (!m || !m.version) {
        el.innerHTML = `<span class="muted">No model version trades this account.</span>`;
        return;
      }
      const name = m.url ? `<a href="${esc(m.url)}">${esc(m.version)}</a>` : esc(m.version);
      el.innerHTML = `${name} <span class="badge ${esc(m.stage)}">${esc(m.stage)}</span> <span class="muted">since ${fmtTime(m.since)}</span>`;
    },
    buttons() {
      const can = snap.can || {};
      for (const btn of root.querySelectorAll("button[data-action]")) btn.hidden = !can[btn.dataset.action];
      const bar = document.getElementById("actions");
      if (bar) bar.hidden = !Object.values(can).some(Boolean);
    },
    charts() {
      charts.update();
    },
  };

  const schedule = (...sections) => {
    for (const s of sections) dirty.add(s);
    if (frame === null) frame = requestAnimationFrame(flush);
  };
  function flush() {
    frame = null;
    const t0 = performance.now();
    for (const table of Object.keys(patches)) {
      if (dirty.has(PATCH[table].whole)) patches[table].clear();
      else if (patches[table].size) patchRows(table);
    }
    if (dirty.has("fills")) newFills.length = 0;
    else if (newFills.length) prependFills();
    for (const s of dirty) {
      const t = performance.now();
      renderers[s]();
      stats.sectionMs[s] = Math.round((performance.now() - t) * 10) / 10;
    }
    dirty.clear();
    const ms = performance.now() - t0;
    stats.renders += 1;
    stats.lastRenderMs = ms;
    stats.maxRenderMs = Math.max(stats.maxRenderMs, ms);
    stats.renderedAt = performance.now();
  }
  // New fills on top of the table, the oldest beyond MAX_FILLS dropped (no redraw of 200 rows).
  const newFills = [];
  function prependFills() {
    const body = tbody("fills");
    const empty = body.querySelector("tr.empty");
    if (empty) empty.remove();
    body.insertAdjacentHTML("afterbegin", newFills.reverse().map(fillRow).join(""));
    newFills.length = 0;
    while (body.rows.length > MAX_FILLS) body.deleteRow(-1);
  }
  const filled = () => Object.keys(filling).length === 0;

  // ---------- charts (uPlot, vendored: static/vendor/uplot) ----------
  const charts = (() => {
    const made = {};
    const css = getComputedStyle(document.documentElement);
    const color = (name, fallback) => (css.getPropertyValue(name) || "").trim() || fallback;
    const axis = { stroke: color("--muted", "#8a9aaa"), grid: { stroke: "#2a3642", width: 1 }, ticks: { stroke: "#2a3642" } };
    const secs = (t) => Date.parse(t) / 1000;
    const width = (el) => Math.max(280, el.clientWidth - 4);
    // An empty series: a "no data yet" line instead of an empty frame.
    const empty = (id, isEmpty) => {
      const el = document.getElementById(id);
      if (!el) return;
      el.classList.toggle("empty", isEmpty);
      el.dataset.points = isEmpty ? "0" : "1";
    };
    const make = (id, opts, data) => {
      const el = document.getElementById(id);
      if (!el || typeof uPlot === "undefined") return null;
      const plot = new uPlot({ width: width(el), height: 220, axes: [axis, axis], legend: { show: true }, ...opts }, data, el);
      made[id] = plot;
      return plot;
    };
    const equityData = () => {
      const rows = snap.series.equity || [];
      return [rows.map((r) => secs(r[0])), rows.map((r) => num(r[1])), rows.map((r) => num(r[2]))];
    };
    const drawdownData = () => {
      const rows = snap.series.drawdown || [];
      return [rows.map((r) => secs(r[0])), rows.map((r) => (num(r[1]) === null ? null : num(r[1]) * 100))];
    };
    const sectorData = () => {
      const entries = Object.entries(snap.series.sector_exposure || {}).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
      return { labels: entries.map((e) => e[0]), data: [entries.map((_, i) => i), entries.map((e) => num(e[1]) * 100)] };
    };
    const bars = typeof uPlot !== "undefined" && uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.7, 60] }) : undefined;
    let sectorLabels = [];
    return {
      update() {
        const eq = equityData();
        empty("chart-equity", eq[0].length === 0);
        if (made["chart-equity"]) made["chart-equity"].setData(eq);
        else
          make(
            "chart-equity",
            {
              axes: [axis, { ...axis, size: 80, values: (u, splits) => splits.map((v) => v.toLocaleString("en-US", { maximumFractionDigits: 0 })) }],
              series: [
                {},
                { label: "equity", stroke: color("--accent", "#4aa3ff"), width: 2, value: (u, v) => fmtMoney(v) },
                { label: "SPY (rebased)", stroke: "#a371f7", width: 1.5, spanGaps: true, value: (u, v) => fmtMoney(v) },
              ],
            },
            eq
          );
        const dd = drawdownData();
        empty("chart-drawdown", dd[0].length === 0);
        if (made["chart-drawdown"]) made["chart-drawdown"].setData(dd);
        else
          make(
            "chart-drawdown",
            {
              series: [{}, { label: "drawdown %", stroke: color("--bad", "#f85149"), fill: "rgba(248,81,73,0.18)", width: 1.5, value: (u, v) => (v === null ? dash : `${v.toFixed(2)} %`) }],
            },
            dd
          );
        const sector = sectorData();
        empty("chart-sectors", sector.labels.length === 0);
        sectorLabels = sector.labels;
        if (made["chart-sectors"]) made["chart-sectors"].setData(sector.data);
        else
          make(
            "chart-sectors",
            {
              scales: { x: { time: false, range: (u, min, max) => [min - 0.5, max + 0.5] } },
              axes: [
                { ...axis, space: 10, rotate: -35, size: 110, values: (u, splits) => splits.map((i) => (Number.isInteger(i) ? (sectorLabels[i] || "").slice(0, 18) : "")) },
                { ...axis, values: (u, splits) => splits.map((v) => `${v.toFixed(0)} %`) },
              ],
              series: [
                { value: (u, i) => (i === null ? dash : sectorLabels[i] || "") },
                { label: "weight %", stroke: "#3fb950", fill: "rgba(63,185,80,0.45)", paths: bars, points: { show: false }, value: (u, v) => (v === null ? dash : `${v.toFixed(2)} %`) },
              ],
            },
            sector.data
          );
      },
      resize() {
        for (const [id, plot] of Object.entries(made)) plot.setSize({ width: width(document.getElementById(id)), height: 220 });
      },
    };
  })();
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => charts.resize(), 150);
  });

  // ---------- applying pushed events ----------
  const appliers = {
    fill(p) {
      if (p.fill && !snap.fills.some((f) => f.execution_id === p.fill.execution_id)) {
        snap.fills.unshift(p.fill);
        snap.fills.length = Math.min(snap.fills.length, MAX_FILLS);
        newFills.push(p.fill);
        if (frame === null) frame = requestAnimationFrame(flush);
      }
      if (p.position) upsertPosition(p.position);
      seriesRefresh(); // equity, cash and exposure move with a fill; the next mark may be far off
      actionsNote();
    },
    order(p) {
      if (p.order) applyOrder(p.order);
      actionsNote();
    },
    orders(p) {
      // A batch of orders just created (one number for the whole batch).
      const batch = p.orders || [];
      if (batch.length > 50) {
        for (const o of batch) if (OPEN_ORDER.has(o.status)) orders.set(o.id, o);
        schedule("orders"); // one redraw rather than many row patches
      } else for (const o of batch) applyOrder(o);
    },
    cycle(p) {
      const c = p.cycle;
      if (!c) return;
      const i = snap.cycles.findIndex((x) => x.id === c.id);
      if (i >= 0) snap.cycles[i] = c;
      else {
        snap.cycles.unshift(c);
        snap.cycles.length = Math.min(snap.cycles.length, MAX_CYCLES);
      }
      schedule("cycles");
    },
    mark(p) {
      if (p.headline) {
        snap.headline = p.headline;
        const h = p.headline;
        if (h.as_of && h.equity !== null) {
          const eq = snap.series.equity;
          const last = eq[eq.length - 1];
          if (!last || Date.parse(last[0]) < Date.parse(h.as_of)) eq.push([h.as_of, h.equity, null]);
          const dd = snap.series.drawdown;
          const lastDd = dd[dd.length - 1];
          if (!lastDd || Date.parse(lastDd[0]) < Date.parse(h.as_of)) dd.push([h.as_of, h.drawdown]);
        }
      }
      if (p.positions) {
        positions = new Map();
        for (const row of p.positions) if (num(row.qty) !== 0) positions.set(row.symbol, row);
        dirty.add("positions"); // every row re-marked: one redraw
      }
      schedule("headline", "charts");
      // Sector weights, SPY, health and alerts are not in a mark: refresh them from the snapshot,
      // at most every 5 s.
      seriesRefresh();
    },
    killswitch(p) {
      const block = p.kill_switch;
      if (!block) return;
      if (p.account === null || p.account === undefined) {
        // The desk's switch: it governs this account unless the account's own switch blocks.
        const ks = { ...(snap.kill_switch || {}) };
        ks.desk_state = block.desk_state || block.state;
        if (!ks.account_state || ks.account_state === "active") {
          ks.state = ks.desk_state;
          ks.reason = block.reason;
          ks.changed_at = block.changed_at;
        }
        snap.kill_switch = ks;
      } else snap.kill_switch = block;
      schedule("kill_switch");
      actionsNote();
    },
    health(p) {
      if (p.health) {
        snap.health = p.health;
        schedule("health");
      }
      if (p.checks) {
        // Some checks changed (the desk stream): show them; the overall state from the snapshot.
        snap.health = { ...(snap.health || {}), checks: { ...((snap.health || {}).checks || {}), ...p.checks } };
        schedule("health");
        seriesRefresh();
      }
      if (p.reconciliation) {
        snap.reconciliations.unshift(p.reconciliation);
        snap.reconciliations.length = Math.min(snap.reconciliations.length, MAX_RECONCILIATIONS);
        schedule("reconciliations");
      }
    },
  };
  function applyOrder(o) {
    const open = OPEN_ORDER.has(o.status);
    if (open) orders.set(o.id, o);
    else orders.delete(o.id);
    patch("open-orders", o.id, open ? o : null);
  }
  function upsertPosition(pushed) {
    // A fill's position does not know the weights (null until the next mark): keep the last ones.
    const before = positions.get(pushed.symbol);
    const row = { ...pushed };
    if (before && row.weight === null) row.weight = before.weight;
    if (before && row.target_weight === null) row.target_weight = before.target_weight;
    const closed = num(row.qty) === 0;
    if (closed) positions.delete(row.symbol);
    else positions.set(row.symbol, row);
    patch("positions", row.symbol, closed ? null : row);
    if (snap.headline) snap.headline = { ...snap.headline, positions: positions.size };
    dirty.add("headline");
  }
  let seriesTimer = null;
  let seriesAt = 0;
  function seriesRefresh() {
    if (seriesTimer) return;
    const wait = Math.max(0, 5000 - (performance.now() - seriesAt));
    seriesTimer = setTimeout(async () => {
      seriesTimer = null;
      seriesAt = performance.now();
      try {
        const fresh = await fetchSnapshot();
        snap.series = fresh.series || snap.series;
        snap.health = fresh.health || snap.health;
        snap.alerts = fresh.alerts || snap.alerts;
        if (fresh.seq >= (seqs[accountStream] || 0)) snap.headline = fresh.headline || snap.headline;
        schedule("charts", "health", "alerts", "headline");
      } catch (err) {
        /* the next mark retries */
      }
    }, wait);
  }

  // A message: apply it when it is the next of its stream; else resync.
  function receive(msg) {
    const p = msg.payload || {};
    const stream = p.stream;
    if (resyncing) {
      buffered.push(msg);
      return;
    }
    if (stream && typeof p.seq === "number") {
      const last = seqs[stream];
      if (last === undefined) seqs[stream] = p.seq - 1; // a stream the snapshot states no number for
      if (p.seq <= seqs[stream]) return; // already in the snapshot
      if (p.seq !== seqs[stream] + 1) {
        stats.gaps += 1;
        resync(`gap on ${stream}: ${seqs[stream]} then ${p.seq}`);
        buffered.push(msg);
        return;
      }
      seqs[stream] = p.seq;
    }
    const apply = appliers[msg.event];
    if (apply) apply(p);
    stats.applied += 1;
    stats.lastAppliedAt = performance.now();
  }

  async function fetchSnapshot() {
    const resp = await fetch(root.dataset.snapshotUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!resp.ok) throw new Error(`snapshot answered ${resp.status}`);
    return resp.json();
  }

  // Fetch the snapshot and replace everything; then the buffered messages newer than it.
  function resync(why) {
    if (resyncing) return resyncing;
    status("resync", `resyncing (${why})`);
    resyncing = (async () => {
      let delay = BACKOFF_MIN_MS;
      for (;;) {
        try {
          const fresh = await fetchSnapshot();
          adopt(fresh);
          break;
        } catch (err) {
          status("resync", `snapshot failed (${err.message}); retrying`);
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(BACKOFF_MAX_MS, delay * 2);
        }
      }
      stats.resyncs += 1;
      resyncing = null;
      const pending = buffered.sort((a, b) => (a.payload.seq || 0) - (b.payload.seq || 0));
      buffered = [];
      for (const m of pending) receive(m);
      schedule();
      if (!resyncing) status(socketOpen ? "live" : "down", socketOpen ? "live" : "reconnecting");
    })();
    return resyncing;
  }

  // ---------- connection status line ----------
  function status(kind, text) {
    const el = document.getElementById("conn");
    if (!el) return;
    el.className = `conn ${kind}`;
    el.textContent = text;
  }

  // ---------- buttons ----------
  const dialog = document.getElementById("confirm");
  let pendingAction = null;
  // The result of a press, once the desk has pushed something it did (switch, orders, fills).
  let pushedActs = 0;
  const pushedSummary = () =>
    `kill switch ${String((snap.kill_switch || {}).state).toUpperCase()} · ${orders.size} open order(s) · ${positions.size} position(s)`;
  function actionsNote() {
    pushedActs += 1;
    const el = document.getElementById("action-result");
    if (el && el.dataset.waiting === "true") {
      el.textContent = `${el.dataset.action} pushed back: ${pushedSummary()}`;
      el.dataset.waiting = "false";
    }
  }
  const describe = (action) => {
    const name = root.dataset.account;
    const open = orders.size;
    const held = positions.size;
    const ks = String((snap.kill_switch || {}).state || "active").toUpperCase();
    const gross = fmtMoney((snap.headline || {}).gross_exposure);
    return {
      stop: `STOP account ${name}: its kill switch goes from ${ks} to STOPPED. No new order of ${name} leaves; its ${open} open order(s) stay open and its ${held} position(s) are kept. Only a risk officer's UNLOCK lets it trade again.`,
      cancel: `CANCEL every open order of account ${name}: ${open} order(s) are cancelled at the broker. The kill switch stays ${ks}; positions are not touched (${held}).`,
      flat: `FLAT account ${name}: its kill switch goes to FLATTENING, its ${open} open order(s) are cancelled and every one of its ${held} position(s) (gross exposure ${gross}) is closed with market orders; it ends FLAT when the broker reports no position (else STOPPED). Only UNLOCK lets it trade again.`,
      unlock: `UNLOCK account ${name}: its kill switch goes from ${ks} back to ACTIVE and the next cycle trades again (with four-eyes unlock, a second risk officer must confirm).`,
    }[action];
  };
  for (const btn of root.querySelectorAll("button[data-action]")) {
    btn.addEventListener("click", () => {
      pendingAction = btn.dataset.action;
      dialog.querySelector("[data-field=confirm-title]").textContent = `${pendingAction.toUpperCase()} ${root.dataset.account}?`;
      dialog.querySelector("[data-field=confirm-text]").textContent = describe(pendingAction);
      dialog.querySelector("[data-field=confirm-error]").textContent = "";
      dialog.querySelector("textarea[name=reason]").value = "";
      dialog.querySelector("button[value=confirm]").textContent = pendingAction.toUpperCase();
      dialog.showModal();
    });
  }
  if (dialog) {
    dialog.querySelector("button[value=cancel]").addEventListener("click", () => dialog.close());
    dialog.querySelector("form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const reason = dialog.querySelector("textarea[name=reason]").value.trim();
      const err = dialog.querySelector("[data-field=confirm-error]");
      if (!reason) {
        err.textContent = "A reason is required (it is audited).";
        return;
      }
      const body = new URLSearchParams({ reason });
      const pushedBefore = pushedActs;
      const token = root.querySelector("input[name=csrfmiddlewaretoken]").value;
      const note = document.getElementById("action-result");
      let resp;
      try {
        resp = await fetch(`${root.dataset.actionBase}${pendingAction}`, {
          method: "POST",
          credentials: "same-origin",
          headers: { "X-CSRFToken": token, Accept: "application/json" },
          body,
        });
      } catch (e) {
        err.textContent = `Not sent: ${e.message}`;
        return;
      }
      let answer = {};
      try {
        answer = await resp.json();
      } catch (e) {
        /* a non-JSON answer: the status says enough */
      }
      if (!resp.ok) {
        err.textContent = `Refused (${resp.status}): ${answer.detail || answer.error || resp.statusText}`;
        return;
      }
      dialog.close();
      // Not the result: the page changes when the desk pushes the switch / orders / fills (which
      // may already have arrived while the POST was answered).
      note.dataset.action = pendingAction.toUpperCase();
      if (pushedActs > pushedBefore) {
        note.dataset.waiting = "false";
        note.textContent = `${note.dataset.action} pushed back: ${pushedSummary()}`;
      } else {
        note.dataset.waiting = "true";
        note.textContent = `${note.dataset.action} sent (${answer.detail || "accepted"}); waiting for the desk to push the result…`;
      }
    });
  }

  // ---------- the socket ----------
  function connect(path, onMessage, onOpen) {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
    let delay = BACKOFF_MIN_MS;
    const open = () => {
      let ws;
      try {
        ws = new WebSocket(url);
      } catch (e) {
        setTimeout(open, delay);
        return;
      }
      ws.onopen = () => {
        delay = BACKOFF_MIN_MS;
        socketOpen = true;
        stats.connects += 1;
        status("live", "live");
        onOpen();
      };
      ws.onmessage = (ev) => {
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch (e) {
          return;
        }
        onMessage(msg);
      };
      ws.onclose = (ev) => {
        socketOpen = false;
        if (ev.code === 4401 || ev.code === 4403) {
          status("down", ev.code === 4401 ? "signed out: reload the page to sign in" : "not allowed to watch this account");
          return;
        }
        const wait = delay * (0.8 + Math.random() * 0.4);
        status("down", `disconnected; reconnecting in ${(wait / 1000).toFixed(1)} s`);
        setTimeout(open, wait);
        delay = Math.min(BACKOFF_MAX_MS, delay * 2);
      };
    };
    open();
  }

  adopt(snap);
  flush();
  stats.firstRenderMs = performance.now();
  // After the next frame's layout and paint: when the data is on screen.
  requestAnimationFrame(() => setTimeout(() => (stats.firstPaintMs = performance.now()), 0));
  // Every (re)connect resyncs: whatever was published while no socket listened is in the snapshot.
  connect(root.dataset.wsUrl, receive, () => resync("connected"));
  window.cockpit = { stats, seqs, receive, filled };
})();
