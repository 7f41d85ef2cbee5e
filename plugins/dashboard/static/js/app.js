// The dashboard's core: the token (sessionStorage, never in a URL), API calls, role-aware
// controls, DOM helpers that only ever set text, and the page start-up.
import { LiveSocket } from "./live.js";

const TOKEN_KEY = "quarkbot.token";
const RANK = { viewer: 1, trader: 2, admin: 3 };

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  user: null,
};

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(body) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

function describe(body) {
  if (!body) return "";
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail)) return body.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  return "";
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  if (response.status === 401) { logout(); throw new ApiError(401, null); }
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export function allows(role) { return !!session.user && RANK[session.user.role] >= RANK[role]; }

export function logout() {
  const token = session.token;
  session.token = null;
  if (token) fetch("/api/v1/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${token}` } }).catch(() => {});
  location.assign("/ui/login");
}

// DOM: every value goes in as text ------------------------------------------------------------
export const $ = (selector, root = document) => root.querySelector(selector);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "on") for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function text(target, value) {
  const node = typeof target === "string" ? $(target) : target;
  if (node) node.textContent = value === null || value === undefined || value === "" ? "–" : String(value);
  return node;
}

export function fmt(value, digits = 2) {
  if (value === null || value === undefined || value === "") return "–";
  const number = Number(value);
  if (!Number.isFinite(number)) return String(value);
  return number.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtTime(value) {
  if (!value) return "–";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString("en-GB", { hour12: false });
}

export function signed(node, value) {
  node.classList.toggle("up", Number(value) > 0);
  node.classList.toggle("down", Number(value) < 0);
}

// A table: columns are [header, row => value or Node]. Rows keyed by `key` update in place.
export class Table {
  constructor(target, columns, { key = "id", max = 200, empty = "Nothing yet" } = {}) {
    this.node = typeof target === "string" ? $(target) : target;
    this.columns = columns;
    this.key = key;
    this.max = max;
    this.empty = empty;
    this.rows = new Map();
    this.node.replaceChildren(el("thead", {}, el("tr", {}, columns.map(([title]) => el("th", {}, title)))), el("tbody"));
    this.body = this.node.tBodies[0];
    this.placeholder();
  }
  placeholder() {
    if (this.rows.size === 0) this.body.replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: this.columns.length }, this.empty)));
  }
  render(row) {
    return el("tr", { dataset: { key: String(row[this.key]) } }, this.columns.map(([, get]) => {
      const value = get(row);
      return el("td", {}, value instanceof Node ? value : value === null || value === undefined ? "–" : String(value));
    }));
  }
  set(items) {
    this.rows.clear();
    this.body.replaceChildren();
    for (const row of items.slice(0, this.max)) this.rows.set(String(row[this.key]), row);
    this.body.append(...[...this.rows.values()].map((row) => this.render(row)));
    this.placeholder();
  }
  upsert(row, { prepend = true } = {}) {
    const key = String(row[this.key]);
    const rendered = this.render(row);
    const existing = this.rows.has(key) ? this.body.querySelector(`tr[data-key="${CSS.escape(key)}"]`) : null;
    if (this.rows.size === 0) this.body.replaceChildren();
    this.rows.set(key, row);
    if (existing) existing.replaceWith(rendered);
    else if (prepend) this.body.prepend(rendered);
    else this.body.append(rendered);
    while (this.rows.size > this.max) {
      const last = this.body.lastElementChild;
      this.rows.delete(last.dataset.key);
      last.remove();
    }
  }
  remove(key) {
    const row = this.body.querySelector(`tr[data-key="${CSS.escape(String(key))}"]`);
    if (row) row.remove();
    this.rows.delete(String(key));
    this.placeholder();
  }
}

export function toast(message, kind = "info") {
  const node = $("#toast");
  if (!node) return;
  node.textContent = message;
  node.className = `toast toast-${kind}`;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { node.hidden = true; }, 4000);
}

export function button(label, onClick, kind = "") {
  return el("button", { class: `btn btn-sm ${kind}`, type: "button", on: { click: async (event) => {
    const target = event.currentTarget;
    target.disabled = true;
    try { await onClick(); } catch (error) { toast(error.message, "error"); } finally { target.disabled = false; }
  } } }, label);
}

// Start-up of every page but login -------------------------------------------------------------
export async function start(setup) {
  if (!session.token) { location.replace("/ui/login"); return; }
  try { session.user = await api("/api/v1/auth/me"); } catch { return; }
  text("#whoami", `${session.user.username} · ${session.user.role}`);
  $("#logout").addEventListener("click", logout);
  for (const node of document.querySelectorAll("[data-min-role]")) {
    if (!allows(node.dataset.minRole)) node.remove();
  }
  const live = new LiveSocket((state) => {
    const conn = $("#conn");
    conn.className = `conn conn-${state}`;
    text("#conn-text", state);
  });
  window.quarkbotLive = live; // tests and the bench drop and reopen the socket through this
  live.on("risk:alerts", () => tradingState());
  tradingState();
  alertsBanner(live);
  document.body.classList.remove("is-loading");
  live.connect();
  try {
    await setup(live);
  } catch (error) {
    toast(`Could not load everything: ${error.message}`, "error");
  }
  const { mountPanels } = await import("./panels.js");
  await mountPanels(document.body.dataset.page, live);
  document.body.dataset.ready = "true";
}

async function tradingState() {
  try {
    const kill = await api("/api/v1/risk/kill-switch");
    const node = text("#trading-state", kill.active ? `trading ${kill.state.toLowerCase()}` : "trading active");
    node.className = `pill ${kill.active ? "pill-danger" : "pill-ok"}`;
  } catch { /* the risk plugin may be absent */ }
}

async function alertsBanner(live) {
  const banner = $("#alerts-banner");
  const show = async () => {
    try {
      const page = await api("/api/v1/alerts?status=firing&limit=5");
      const firing = (page.items || []).filter((alert) => alert.status === "firing");
      banner.hidden = firing.length === 0;
      banner.replaceChildren(...firing.slice(0, 3).map((alert) => el("span", { class: "banner-item" }, `${alert.severity || "alert"}: ${alert.message || alert.name || ""}`)));
    } catch { banner.hidden = true; }
  };
  live.on("alerts", show);
  await show();
}
