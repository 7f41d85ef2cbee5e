// Tables and live feeds several pages share: fills, open orders.
import { Table, allows, api, button, el, fmt, fmtTime, toast } from "./app.js";

export const OPEN = new Set(["PENDING_SUBMIT", "ACCEPTED", "PARTIALLY_FILLED"]);

const sideTag = (side) => el("span", { class: `tag tag-${side}` }, side);

export function fillsTable(live, selector = "#fills") {
  const table = new Table(selector, [
    ["Time", (f) => fmtTime(f.ts)],
    ["Symbol", (f) => f.symbol],
    ["Side", (f) => sideTag(f.side)],
    ["Quantity", (f) => fmt(f.quantity, 4)],
    ["Price", (f) => fmt(f.price)],
    ["Fee", (f) => fmt(f.fee, 4)],
    ["Order", (f) => f.client_order_id || `#${f.order_id}`],
  ], { key: "fill_id", max: 100, empty: "No fills yet" });
  const load = async () => table.set((await api("/api/v1/fills?limit=100")).items);
  live.on("execution:fills", (event) => table.upsert(event.data), load);
  return { table, load };
}

export function ordersTable(live, selector = "#open-orders") {
  const columns = [
    ["Time", (o) => fmtTime(o.created_at)],
    ["Symbol", (o) => o.symbol],
    ["Side", (o) => sideTag(o.side)],
    ["Type", (o) => o.type],
    ["Quantity", (o) => fmt(o.quantity, 4)],
    ["Price", (o) => (o.price ? fmt(o.price) : "market")],
    ["Status", (o) => el("span", { class: "tag" }, o.status)],
  ];
  if (allows("trader")) {
    columns.push(["", (o) => button("Cancel", async () => {
      await api(`/api/v1/orders/${o.id}`, { method: "DELETE" });
      toast(`Cancel requested for ${o.client_order_id}`, "ok");
    }, "btn-ghost")]);
  }
  const table = new Table(selector, columns, { empty: "No open orders" });
  const load = async () => table.set((await api("/api/v1/orders?limit=200")).items.filter((o) => OPEN.has(o.status)));
  live.on("execution:orders", (event) => {
    if (OPEN.has(event.data.status)) table.upsert(event.data);
    else table.remove(event.data.id);
  }, load);
  return { table, load };
}
