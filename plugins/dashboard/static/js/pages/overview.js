import { $, Table, api, el, fmt, signed, start, text } from "../app.js";
import { equityChart, seconds } from "../charts.js";
import { fillsTable, ordersTable } from "../tables.js";

start(async (live) => {
  const fills = fillsTable(live);
  const orders = ordersTable(live);
  const positions = new Table("#positions", [
    ["Symbol", (p) => p.symbol],
    ["Side", (p) => el("span", { class: `tag tag-${p.side === "short" ? "sell" : "buy"}` }, p.side)],
    ["Quantity", (p) => fmt(p.quantity, 4)],
    ["Avg price", (p) => fmt(p.avg_price)],
    ["Mark", (p) => fmt(p.mark)],
    ["Realized", (p) => fmt(p.realized_pnl)],
  ], { key: "symbol", empty: "Flat" });

  const history = await api("/api/v1/portfolio/history?limit=1000");
  const curve = equityChart($("#equity-chart"), points(history.items));

  let timer = null;
  const refresh = async () => {
    const [portfolio, open] = await Promise.all([api("/api/v1/portfolio"), api("/api/v1/positions?limit=200")]);
    text("#kpi-equity", fmt(portfolio.total_equity));
    const pnl = text("#kpi-pnl", `${fmt(portfolio.daily_pnl)} (${fmt(portfolio.daily_pnl_pct)}%)`);
    signed(pnl, portfolio.daily_pnl);
    text("#kpi-drawdown", `${fmt(portfolio.max_drawdown_pct)}%`);
    text("#kpi-cash", fmt(portfolio.cash));
    positions.set(open.items.filter((p) => Number(p.quantity) !== 0));
    const latest = await api("/api/v1/portfolio/history?limit=1000");
    curve.set([...points(latest.items), { time: seconds(portfolio.ts), value: Number(portfolio.total_equity) }]);
  };
  // a burst of fills changes the portfolio many times: redraw at most once a second
  const soon = () => { if (!timer) timer = setTimeout(() => { timer = null; refresh(); }, 1000); };
  live.on("portfolio", () => { soon(); }, refresh);
  let summaryTimer = null;
  live.on("execution:orders", () => { if (!summaryTimer) summaryTimer = setTimeout(() => { summaryTimer = null; summary(); }, 2000); });
  await Promise.all([refresh(), fills.load(), orders.load(), health(), summary()]);
  setInterval(health, 15000);
});

function points(items) {
  return items.map((row) => ({ time: seconds(row.ts), value: Number(row.total_equity) }));
}

async function summary() {
  const today = new Date().toISOString().slice(0, 10);
  const result = await api(`/api/v1/trading/summary?start=${today}T00:00:00Z`);
  const rows = [["Orders", result.orders_total], ["Filled", result.orders?.FILLED], ["Rejected", result.orders?.REJECTED], ["Fills", result.fills], ["Fees", fmt(result.fees)], ["Realized PnL", fmt(result.realized_pnl)]];
  $("#summary").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v ?? "–")]));
}

async function health() {
  const status = await api("/api/v1/system/status");
  $("#health").replaceChildren(...Object.entries(status.components).map(([name, component]) =>
    el("li", { class: `health health-${component.status}` }, el("span", { class: "dot" }), el("span", { class: "health-name" }, name), el("span", { class: "muted small" }, component.status))));
}
