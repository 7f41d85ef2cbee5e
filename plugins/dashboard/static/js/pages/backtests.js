import { $, Table, allows, api, button, el, fmt, fmtTime, start, text, toast } from "../app.js";
import { equityChart, seconds } from "../charts.js";

let live = null;
let list = null;
let equity = null;

start(async (socket) => {
  live = socket;
  list = new Table("#backtests", [
    ["#", (b) => b.id],
    ["Strategy", (b) => b.strategy_name || b.strategy_type],
    ["Symbols", (b) => b.symbols.join(", ")],
    ["Period", (b) => `${b.start.slice(0, 10)} → ${b.end.slice(0, 10)}`],
    ["Combinations", (b) => b.combinations],
    ["Status", (b) => el("span", { class: `pill pill-${b.status === "complete" ? "ok" : b.status === "failed" ? "danger" : "muted"}` }, b.status)],
    ["Return", (b) => (b.total_return_pct == null ? "–" : `${fmt(b.total_return_pct)}%`)],
    ["Created", (b) => fmtTime(b.created_at)],
    ["", (b) => (b.status === "complete" ? button("Report", () => report(b.id), "btn-ghost") : "")],
  ], { empty: "No backtests yet" });
  const load = async () => list.set((await api("/api/v1/backtests?limit=50")).items);
  await load();
  if (allows("trader")) await sweepForm(load);
});

async function sweepForm(reload) {
  const form = $("#sweep-form");
  const strategies = (await api("/api/v1/strategies?limit=1000")).items;
  form.elements.strategy.replaceChildren(...strategies.map((s) => el("option", { value: s.id }, `${s.name} (${s.type})`)));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("#sweep-error");
    error.hidden = true;
    try {
      const body = {
        symbols: form.elements.symbols.value.split(",").map((s) => s.trim().toUpperCase()).filter(Boolean),
        timeframe: form.elements.timeframe.value,
        start: `${form.elements.start.value}T00:00:00Z`,
        end: `${form.elements.end.value}T23:59:59Z`,
        param_grid: grid(form.elements.grid.value),
        fees: 0.001,
      };
      const queued = await api(`/api/v1/strategies/${form.elements.strategy.value}/backtest`, { method: "POST", body });
      follow(queued, reload);
      await reload();
    } catch (problem) { error.textContent = problem.message; error.hidden = false; }
  });
}

function grid(source) {
  const result = {};
  for (const line of source.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const [name, values] = line.split("=").map((part) => (part || "").trim());
    if (!name || !values) throw new Error(`grid line "${line}": write name = v1, v2`);
    result[name] = values.split(",").map((v) => v.trim()).filter(Boolean).map((v) => (Number.isFinite(Number(v)) ? Number(v) : v));
  }
  return result;
}

// Progress over the backtest's own channel; the report opens when it completes.
function follow(queued, reload) {
  $("#progress-card").hidden = false;
  text("#progress-title", `backtest #${queued.id}`);
  const bar = $("#progress");
  bar.value = 0;
  text("#progress-text", `queued · ${queued.combinations} combinations`);
  const poll = async () => progress(await api(`/api/v1/backtests/${queued.id}`));
  const progress = async (state) => {
    const p = state.progress || state;
    if (p.percent !== undefined) bar.value = p.percent;
    if (p.done !== undefined) text("#progress-text", `${p.done} / ${p.total} combinations · ${fmt(p.percent, 0)}%`);
    if (state.status === "complete") {
      bar.value = 100;
      text("#progress-text", "complete");
      await reload();
      await report(queued.id);
    } else if (state.status === "failed") {
      text("#progress-text", `failed: ${state.error || ""}`);
      toast(`Backtest #${queued.id} failed`, "error");
      await reload();
    }
  };
  live.on(queued.channel, (event) => progress(event.data), poll);
  poll();
}

async function report(id) {
  const [detail, combos] = await Promise.all([api(`/api/v1/backtests/${id}`), api(`/api/v1/backtests/${id}/combinations?limit=1000`)]);
  const section = $("#report");
  section.hidden = false;
  section.dataset.backtest = String(id);
  text("#report-title", `#${id} · ${detail.strategy_name || detail.strategy_type}`);
  const metrics = Object.entries(detail.metrics || {}).filter(([, v]) => v === null || typeof v !== "object");
  $("#report-metrics").replaceChildren(...metrics.flatMap(([k, v]) => [el("dt", {}, k.replaceAll("_", " ")), el("dd", {}, typeof v === "number" ? fmt(v, Number.isInteger(v) ? 0 : 2) : String(v))]));
  const points = (detail.equity || []).map((p) => ({ time: seconds(p.ts), value: Number(p.value) }));
  if (equity) equity.set(points); else equity = equityChart($("#report-equity"), points);
  heatmap(detail, combos.items);
  const table = new Table("#combinations", [
    ["Params", (c) => Object.entries(c.params).map(([k, v]) => `${k}=${v}`).join(" ")],
    ["Symbol", (c) => c.symbol],
    ["Return", (c) => `${fmt(c.total_return_pct)}%`],
    ["Sharpe", (c) => fmt(c.sharpe_ratio)],
    ["Max DD", (c) => `${fmt(c.max_drawdown_pct)}%`],
    ["Trades", (c) => c.total_trades],
  ], { key: "row", max: 1000 });
  table.set(combos.items.map((c, row) => ({ ...c, row })));
  $("#report-download").onclick = () => download(id);
  section.scrollIntoView({ behavior: "smooth" });
}

// Two parameters of the grid, the ranking metric averaged over symbols, one cell each.
function heatmap(detail, rows) {
  const node = $("#heatmap");
  const names = Object.keys(detail.param_grid || {});
  if (names.length < 2) { node.replaceChildren(el("p", { class: "muted" }, "A heatmap needs a grid of two parameters.")); return; }
  const [x, y] = names;
  const metric = detail.rank_by || "sharpe_ratio";
  text("#heatmap-axes", `${metric.replaceAll("_", " ")} by ${x} × ${y}`);
  const cells = new Map();
  for (const row of rows) {
    const key = `${row.params[x]}|${row.params[y]}`;
    const cell = cells.get(key) || { sum: 0, n: 0 };
    if (typeof row[metric] === "number") { cell.sum += row[metric]; cell.n += 1; }
    cells.set(key, cell);
  }
  const values = [...cells.values()].filter((c) => c.n).map((c) => c.sum / c.n);
  const low = Math.min(...values);
  const high = Math.max(...values);
  const xs = detail.param_grid[x];
  const ys = detail.param_grid[y];
  node.style.gridTemplateColumns = `auto repeat(${xs.length}, 1fr)`;
  const children = [el("div", { class: "hm-corner" }, `${y} \\ ${x}`), ...xs.map((v) => el("div", { class: "hm-head" }, v))];
  for (const yv of ys) {
    children.push(el("div", { class: "hm-head" }, yv));
    for (const xv of xs) {
      const cell = cells.get(`${xv}|${yv}`);
      const value = cell && cell.n ? cell.sum / cell.n : null;
      const box = el("div", { class: "hm-cell", title: `${x}=${xv} ${y}=${yv}` }, value === null ? "–" : fmt(value));
      if (value !== null) box.style.backgroundColor = color(high === low ? 0.5 : (value - low) / (high - low));
      children.push(box);
    }
  }
  node.replaceChildren(...children);
}

function color(t) {
  const hue = Math.round(t * 130); // red to green
  return `hsl(${hue} 65% 32%)`;
}

async function download(id) {
  const response = await fetch(`/api/v1/backtests/${id}/report`, { headers: { Authorization: `Bearer ${sessionStorage.getItem("quarkbot.token")}` } });
  if (!response.ok) { toast(`Report: HTTP ${response.status}`, "error"); return; }
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: `backtest-${id}.html` });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
