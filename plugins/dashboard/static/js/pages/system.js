import { $, Table, allows, api, button, el, fmtTime, start, text, toast } from "../app.js";

start(async (live) => {
  const jobs = new Table("#jobs", [
    ["Job", (j) => el("code", {}, j.name)],
    ["Plugin", (j) => j.plugin],
    ["Schedule", (j) => (j.cron ? schedule(j.schedule) : "on demand")],
    ["Next run", (j) => fmtTime(j.next_run_at)],
    ["Description", (j) => j.description],
    ["", (j) => (allows("admin") ? button("Trigger", async () => {
      const queued = await api(`/api/v1/system/jobs/${encodeURIComponent(j.name)}/trigger`, { method: "POST" });
      toast(`${j.name} queued (${queued.job_id || "ok"})`, "ok");
    }, "btn-ghost") : "")],
  ], { key: "name" });
  const runs = new Table("#job-runs", [
    ["Job", (r) => r.name],
    ["Status", (r) => el("span", { class: `pill pill-${r.status === "complete" ? "ok" : r.status === "failed" ? "danger" : "muted"}` }, r.status)],
    ["Queued", (r) => fmtTime(r.enqueued_at)],
    ["Duration", (r) => (r.duration_ms == null ? "–" : `${Math.round(r.duration_ms)} ms`)],
  ], { key: "job_id", max: 30 });
  const plugins = new Table("#plugins", [
    ["Plugin", (p) => p.name],
    ["Version", (p) => p.version],
    ["Source", (p) => p.source],
    ["Hooks", (p) => p.hooks.length],
  ], { key: "name" });
  const keys = new Table("#api-keys", [
    ["Name", (k) => k.name],
    ["Prefix", (k) => k.prefix],
    ["Role", (k) => k.role],
    ["Created", (k) => fmtTime(k.created_at)],
    ["Last used", (k) => fmtTime(k.last_used_at)],
  ], { empty: "No API keys" });
  const loadRuns = async () => runs.set((await api("/api/v1/jobs?limit=30")).items);
  live.on("jobs", (event) => runs.upsert({ ...(runs.rows.get(event.data.job_id) || {}), ...event.data }), loadRuns);
  await Promise.all([
    api("/api/v1/system/jobs").then((page) => jobs.set(page.items)),
    api("/api/v1/system/plugins").then((page) => plugins.set(page.items)),
    api("/api/v1/auth/api-keys").then((page) => keys.set(page.items)).catch(() => {}),
    loadRuns(),
  ]);
  if (allows("admin")) await audit();
});

function schedule(value) {
  if (!value || typeof value !== "object") return value;
  return Object.entries(value).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(",") : v}`).join(" · ");
}

async function audit() {
  const table = new Table("#audit", [
    ["#", (a) => a.seq],
    ["Time", (a) => fmtTime(a.ts)],
    ["Actor", (a) => a.actor],
    ["Action", (a) => a.action],
    ["Request", (a) => `${a.method} ${a.path}`],
    ["Status", (a) => a.status],
  ], { key: "seq" });
  table.set((await api("/api/v1/audit?limit=50")).items);
  $("#audit-verify").addEventListener("click", async () => {
    const result = await api("/api/v1/dashboard/audit/verify");
    const node = text("#audit-result", result.ok ? `chain intact · ${result.rows} rows` : `broken: ${result.problem}`);
    node.className = `pill ${result.ok ? "pill-ok" : "pill-danger"}`;
  });
}
