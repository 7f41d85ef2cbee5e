import { $, allows, api, el, fmt, start, text, toast } from "../app.js";
import { candleChart, seconds } from "../charts.js";
import { fillsTable, ordersTable } from "../tables.js";

const MINUTE = 60;

start(async (live) => {
  const fills = fillsTable(live);
  const orders = ordersTable(live);
  const instruments = (await api("/api/v1/instruments?limit=1000")).items.filter((i) => i.is_active);
  const select = $("#symbol");
  select.replaceChildren(...instruments.map((i) => el("option", { value: i.symbol }, `${i.symbol} · ${i.name || ""}`)));
  const chart = candleChart($("#candles"));
  let symbol = select.value;
  let last = null; // the candle the live quotes move

  const load = async () => {
    const since = new Date(Date.now() - 6 * 3600 * 1000).toISOString();
    let bars = (await api(`/api/v1/market-data/${encodeURIComponent(symbol)}/bars?timeframe=1m&start=${since}&limit=1000`)).items;
    if (bars.length < 10) bars = (await api(`/api/v1/market-data/${encodeURIComponent(symbol)}/bars?timeframe=1d&start=2024-01-01T00:00:00Z&limit=1000`)).items;
    const candles = bars.map((b) => ({ time: seconds(b.ts), open: +b.open, high: +b.high, low: +b.low, close: +b.close }));
    chart.series.setData(candles);
    chart.chart.timeScale().fitContent();
    last = candles.at(-1) || null;
    try { showQuote(await api(`/api/v1/market-data/${encodeURIComponent(symbol)}/quote`)); } catch { /* no quote yet */ }
  };
  const onQuote = (event) => {
    if (event.data.symbol !== symbol) return;
    showQuote(event.data);
    const price = Number(event.data.last ?? event.data.mid);
    const time = Math.floor(seconds(event.data.ts) / MINUTE) * MINUTE;
    if (!last || time > last.time) last = { time, open: price, high: price, low: price, close: price };
    else last = { ...last, high: Math.max(last.high, price), low: Math.min(last.low, price), close: price };
    chart.series.update(last);
  };
  const follow = () => live.on(`market:quotes:${symbol}`, onQuote, load);
  select.addEventListener("change", async () => { symbol = select.value; follow(); await load(); });
  follow();
  if (allows("trader")) ticket(() => symbol);
  await Promise.all([load(), fills.load(), orders.load()]);
});

function showQuote(quote) {
  for (const [id, field] of [["#q-bid", "bid"], ["#q-ask", "ask"], ["#q-last", "last"]]) {
    const node = $(id);
    const previous = Number(node.dataset.value);
    const value = Number(quote[field]);
    node.dataset.value = String(value);
    text(node, fmt(value));
    node.classList.toggle("up", value > previous);
    node.classList.toggle("down", value < previous);
  }
}

// The ticket: a preview runs every pre-trade gate and shows each verdict before submitting.
function ticket(symbolOf) {
  const form = $("#ticket");
  const submit = $("#submit-btn");
  const preview = $("#preview");
  let pending = null;
  form.addEventListener("input", () => { pending = null; submit.disabled = true; preview.hidden = true; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    pending = order(form, symbolOf());
    try {
      const [result, gates] = await Promise.all([api("/api/v1/orders/preview", { method: "POST", body: pending }), gatePlugins()]);
      showPreview(preview, result, gates);
      submit.disabled = !result.would_submit;
    } catch (error) { pending = null; toast(error.message, "error"); }
  });
  submit.addEventListener("click", async () => {
    if (!pending) return;
    submit.disabled = true;
    try {
      const placed = await api("/api/v1/orders", { method: "POST", body: pending });
      toast(`${placed.side} ${placed.quantity} ${placed.symbol}: ${placed.status}`, placed.status === "REJECTED" ? "error" : "ok");
    } catch (error) { toast(error.message, "error"); }
    pending = null;
    preview.hidden = true;
  });
}

function order(form, symbol) {
  const data = new FormData(form);
  const body = { client_order_id: `ui-${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`, symbol, side: data.get("side"), type: data.get("type"), quantity: String(data.get("quantity")).trim() };
  const price = String(data.get("price") || "").trim();
  if (body.type === "limit" && price) body.price = price;
  return body;
}

let gateCache = null;
async function gatePlugins() {
  if (!gateCache) {
    const plugins = (await api("/api/v1/system/plugins")).items;
    gateCache = plugins.filter((p) => p.hooks.includes("check_order")).map((p) => p.name);
  }
  return gateCache;
}

function showPreview(node, result, gates) {
  const denied = new Map(result.denials.map((d) => [d.plugin, d]));
  const rows = gates.map((gate) => {
    const denial = denied.get(gate);
    return el("li", { class: `gate gate-${denial ? "deny" : "pass"}` }, el("span", { class: "gate-name" }, gate), el("span", { class: "gate-verdict" }, denial ? `denied · ${denial.code}` : "pass"), denial ? el("span", { class: "gate-reason" }, denial.reason) : null);
  });
  for (const denial of result.denials) if (!gates.includes(denial.plugin)) rows.push(el("li", { class: "gate gate-deny" }, el("span", { class: "gate-name" }, denial.plugin), el("span", { class: "gate-verdict" }, `denied · ${denial.code}`), el("span", { class: "gate-reason" }, denial.reason)));
  node.replaceChildren(
    el("div", { class: `verdict ${result.would_submit ? "verdict-ok" : "verdict-deny"}` }, result.would_submit ? "Every gate passes" : "Denied"),
    el("ul", { class: "gates" }, rows),
    el("dl", { class: "kv" }, [["Est. price", result.estimated_price], ["Notional", result.notional], ["Fee", result.estimated_fee], ["Position after", result.position_after], ["Cash available", result.cash_available]].flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, fmt(v))])),
  );
  node.hidden = false;
}
