// Panels contributed by plugins (hook register_dashboard_panels): drawn from their JSON source
// as a table, key-values or a badge (text only), or by the plugin's own ES module.
import { $, Table, api, button, el, text, toast } from "./app.js";

export async function mountPanels(page, live) {
  const host = $("#plugin-panels");
  if (!host) return;
  let panels = [];
  try { panels = (await api(`/api/v1/dashboard/panels?page=${encodeURIComponent(page)}`)).items; } catch { return; }
  for (const panel of panels) {
    const body = el("div", { class: "panel-body" });
    const actions = el("div", { class: "panel-actions" });
    const card = el("div", { class: "card panel", dataset: { panel: panel.id } }, el("div", { class: "card-head" }, el("h2", {}, panel.title), el("span", { class: "muted small" }, panel.plugin), actions), body);
    host.append(card);
    const refresh = () => draw(panel, body, rowActions);
    const act = (action, row = {}) => button(action.label, async () => {
      if (action.confirm && !confirm(action.confirm)) return;
      const url = action.url.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(String(row[name] ?? "")));
      await api(url, { method: "POST", body: action.body });
      toast(`${action.label}: done`, "ok");
      refresh();
    }, "btn-ghost");
    // an action whose url names row fields ({id}) is a button on each row of a table
    const rowActions = panel.actions.filter((a) => a.url.includes("{")).map((a) => (row) => act(a, row));
    for (const action of panel.actions.filter((a) => !a.url.includes("{"))) actions.append(act(action));
    if (panel.script) {
      const module = await import(panel.script);
      await module.render(body, { api, el, text, live });
      continue;
    }
    if (panel.channel) live.on(panel.channel, refresh, refresh);
    await refresh();
  }
}

async function draw(panel, body, rowActions) {
  let data;
  try { data = await api(panel.source); } catch (error) {
    // 404/422: nothing to show yet (the API says why); anything else is an error
    const empty = error.status === 404 || error.status === 422;
    body.replaceChildren(el("p", { class: empty ? "muted" : "error" }, error.message));
    return;
  }
  if (panel.kind === "badge") {
    const value = data[panel.columns[0]];
    body.replaceChildren(el("span", { class: `pill pill-${String(value).toLowerCase()}` }, value));
  } else if (panel.kind === "table") {
    const rows = Array.isArray(data) ? data : data[panel.items_key] || [];
    const columns = panel.columns.length ? panel.columns : Object.keys(rows[0] || {}).filter((key) => scalar(rows[0][key])).slice(0, 6);
    const cells = columns.map((name) => [name.replaceAll("_", " "), (row) => show(row[name])]);
    for (const make of rowActions) cells.push(["", make]);
    const table = new Table(el("table", { class: "table" }), cells, { key: columns[0] || "id" });
    table.set(rows.map((row, index) => ({ ...row, [columns[0] || "id"]: row[columns[0]] ?? index })));
    body.replaceChildren(table.node);
  } else {
    const entries = panel.columns.length ? panel.columns.map((name) => [name, data[name]]) : Object.entries(data).filter(([, value]) => scalar(value));
    body.replaceChildren(el("dl", { class: "kv" }, entries.flatMap(([name, value]) => [el("dt", {}, name.replaceAll("_", " ")), el("dd", {}, show(value))])));
  }
}

const scalar = (value) => value === null || typeof value !== "object";
const show = (value) => (value === null || value === undefined ? "–" : typeof value === "object" ? JSON.stringify(value) : String(value));
