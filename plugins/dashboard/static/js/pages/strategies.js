import { Table, allows, api, button, el, fmt, fmtTime, start, toast } from "../app.js";

start(async (live) => {
  const trader = allows("trader");
  const toggle = (s, field) => {
    const box = el("input", { type: "checkbox", class: "switch", "aria-label": `${field} ${s.name}`, checked: s[field], disabled: !trader });
    box.addEventListener("change", async () => {
      try {
        const updated = await api(`/api/v1/strategies/${s.id}`, { method: "PATCH", body: { [field]: box.checked } });
        toast(`${updated.name}: ${field.replace("_", " ")} ${updated[field] ? "on" : "off"}`, "ok");
      } catch (error) { box.checked = !box.checked; toast(error.message, "error"); }
    });
    return box;
  };
  const columns = [
    ["Name", (s) => el("span", { class: "strong" }, s.name)],
    ["Type", (s) => s.type],
    ["Symbols", (s) => s.symbols.join(", ")],
    ["Timeframe", (s) => s.timeframe],
    ["Parameters", (s) => Object.entries(s.parameters || {}).map(([k, v]) => `${k}=${v}`).join(" ")],
    ["Active", (s) => toggle(s, "is_active")],
    ["Auto-trade", (s) => toggle(s, "auto_trade")],
  ];
  if (trader) columns.push(["", (s) => button("Train", async () => {
    const result = await api(`/api/v1/strategies/${s.id}/train`, { method: "POST" });
    toast(`Training ${s.name}: ${result.job_ids.length} job(s) queued`, "ok");
  }, "btn-ghost")]);
  const strategies = new Table("#strategies", columns, { empty: "No strategies" });
  const signals = new Table("#signals", [
    ["Time", (s) => fmtTime(s.ts)],
    ["Strategy", (s) => s.strategy_name],
    ["Symbol", (s) => s.symbol],
    ["Side", (s) => el("span", { class: `tag tag-${s.side}` }, s.side)],
    ["Price", (s) => fmt(s.price)],
    ["Confidence", (s) => (s.confidence == null ? "–" : `${fmt(s.confidence, 0)}%`)],
    ["Reasoning", (s) => s.reasoning],
    ["Order", (s) => s.order_status || s.order_error],
  ], { max: 100, empty: "No signals yet" });
  const load = async () => strategies.set((await api("/api/v1/strategies?limit=1000")).items);
  const loadSignals = async () => {
    const list = (await api("/api/v1/strategies?limit=20")).items;
    const pages = await Promise.all(list.map((s) => api(`/api/v1/strategies/${s.id}/signals?limit=20`)));
    signals.set(pages.flatMap((p) => p.items).sort((a, b) => (a.ts < b.ts ? 1 : -1)));
  };
  live.on("execution:signals", (event) => signals.upsert(event.data), loadSignals);
  await Promise.all([load(), loadSignals()]);
});
