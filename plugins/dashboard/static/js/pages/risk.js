import { $, Table, allows, api, button, el, fmt, fmtTime, start, text, toast } from "../app.js";

const WORDS = { activate: "KILL", reduce: "REDUCE", deactivate: "RESUME" };

start(async (live) => {
  const breakers = new Table("#breakers", [
    ["Name", (b) => b.name.replaceAll("_", " ")],
    ["State", (b) => el("span", { class: `pill pill-${b.state === "closed" ? "ok" : "danger"}` }, b.state)],
    ["Enabled", (b) => (b.enabled ? "yes" : "no")],
    ["Value / threshold", (b) => `${b.value ?? "–"} / ${b.threshold}`],
    ["Trips", (b) => b.trips],
    ["Tripped", (b) => fmtTime(b.tripped_at)],
    ["", (b) => (allows("trader") && b.state !== "closed" ? button("Reset", async () => {
      await api(`/api/v1/risk/circuit-breakers/${encodeURIComponent(b.name)}/reset`, { method: "POST" });
      toast(`${b.name} reset`, "ok");
      await load();
    }, "btn-ghost") : "")],
  ], { key: "name" });
  const budgets = new Table("#budgets", [
    ["Strategy", (b) => b.strategy_id],
    ["Currency", (b) => b.currency],
    ["Allocated", (b) => fmt(b.allocated)],
    ["Available", (b) => fmt(b.available)],
    ["Committed", (b) => fmt(b.committed)],
    ["Realized PnL", (b) => fmt(b.realized_pnl)],
  ], { key: "strategy_id", empty: "No budgets" });

  const load = async () => {
    const [kill, cbs, limits, pdt, strategies] = await Promise.all([
      api("/api/v1/risk/kill-switch"), api("/api/v1/risk/circuit-breakers"), api("/api/v1/risk/limits"),
      api("/api/v1/risk/pdt-status"), api("/api/v1/strategies?limit=100"),
    ]);
    const state = text("#kill-state", kill.state);
    state.className = `pill ${kill.active ? "pill-danger" : "pill-ok"}`;
    text("#kill-reason", kill.reason ? `${kill.reason} (by ${kill.activated_by}, ${fmtTime(kill.activated_at)})` : "");
    breakers.set(cbs.items);
    kv("#limits", flatten(limits));
    kv("#pdt", Object.entries(pdt));
    const rows = await Promise.all(strategies.items.map((s) => api(`/api/v1/budget/${s.id}`).catch(() => ({ items: [] }))));
    budgets.set(rows.flatMap((r) => r.items));
  };
  live.on("risk:alerts", load, load);
  if (allows("trader")) killSwitch(load);
  await load();
});

// The kill switch: the button stays disabled until the exact word is typed.
function killSwitch(reload) {
  const form = $("#kill-form");
  const submit = $("#kill-submit");
  const check = () => {
    const action = form.elements.action.value;
    text("#kill-word", WORDS[action]);
    submit.disabled = form.elements.confirmation.value !== WORDS[action];
  };
  form.addEventListener("input", check);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { action: form.elements.action.value, confirmation: form.elements.confirmation.value };
    const reason = form.elements.reason.value.trim();
    if (reason) body.reason = reason;
    try {
      const result = await api("/api/v1/risk/kill-switch", { method: "POST", body });
      toast(`Kill switch: ${result.state}`, result.active ? "error" : "ok");
      form.reset();
      check();
      await reload();
    } catch (error) { toast(error.message, "error"); }
  });
  check();
}

function flatten(object, prefix = "") {
  return Object.entries(object).flatMap(([key, value]) =>
    value && typeof value === "object" && !Array.isArray(value) ? flatten(value, `${prefix}${key}.`) : [[`${prefix}${key}`, value]]);
}

function kv(selector, entries) {
  $(selector).replaceChildren(...entries.flatMap(([key, value]) => [el("dt", {}, key.replaceAll("_", " ")), el("dd", {}, value === null || value === undefined ? "–" : String(value))]));
}
