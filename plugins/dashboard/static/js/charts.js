// lightweight-charts (vendored) with the dashboard's theme.
import { AreaSeries, CandlestickSeries, ColorType, createChart } from "../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs";

const THEME = {
  autoSize: true,
  layout: { background: { type: ColorType.Solid, color: "transparent" }, textColor: "#9aa4b2", fontFamily: "Inter, system-ui, sans-serif", attributionLogo: false },
  grid: { vertLines: { color: "rgba(148,163,184,0.08)" }, horzLines: { color: "rgba(148,163,184,0.08)" } },
  rightPriceScale: { borderColor: "rgba(148,163,184,0.2)" },
  timeScale: { borderColor: "rgba(148,163,184,0.2)", timeVisible: true },
  crosshair: { mode: 0 },
};

export const seconds = (ts) => Math.floor(new Date(ts).getTime() / 1000);

function drawn(node) {
  // a chart counts as drawn once its canvas has a size (the bench measures this moment)
  requestAnimationFrame(() => { node.dataset.drawn = String(performance.now()); });
}

export function equityChart(node, points) {
  const chart = createChart(node, THEME);
  const series = chart.addSeries(AreaSeries, { lineColor: "#38bdf8", topColor: "rgba(56,189,248,0.35)", bottomColor: "rgba(56,189,248,0.02)", lineWidth: 2 });
  series.setData(dedupe(points));
  chart.timeScale().fitContent();
  drawn(node);
  return { chart, series, set: (data) => { series.setData(dedupe(data)); chart.timeScale().fitContent(); } };
}

export function candleChart(node) {
  const chart = createChart(node, THEME);
  const series = chart.addSeries(CandlestickSeries, { upColor: "#22c55e", downColor: "#ef4444", borderVisible: false, wickUpColor: "#22c55e", wickDownColor: "#ef4444" });
  drawn(node);
  return { chart, series };
}

// one point per second, sorted: what the library requires
function dedupe(points) {
  const byTime = new Map();
  for (const point of points) byTime.set(point.time, point);
  return [...byTime.values()].sort((a, b) => a.time - b.time);
}
