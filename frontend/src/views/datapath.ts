// Data path: the memory hierarchy as a diagram (host, HBM, SBUF and PSUM, other cores and chips) whose links
// are drawn as wide as the bytes they moved, labelled with achieved vs peak bandwidth; bandwidth over time
// per link; bytes by purpose; top transfers; tensors loaded more than twice.
import uPlot from "uplot";
import { getJSON } from "../api";
import { Datapath, Link } from "../contract";
import { clear, h } from "../dom";
import { bytes, duration } from "../format";
import { fetchInto } from "../show";
import { profileParams, View } from "./types";


const SVG = "http://www.w3.org/2000/svg";
// Boxes of the diagram and the link that joins each pair.
const BOXES: Record<string, [number, number]> = { host: [60, 20], hbm: [60, 120], sbuf: [60, 220], psum: [60, 320], peer: [330, 220], chip: [330, 120] };
const EDGES: [string, string, string][] = [["host<->hbm", "host", "hbm"], ["hbm<->sbuf", "hbm", "sbuf"], ["sbuf<->psum", "sbuf", "psum"],
  ["core<->core", "sbuf", "peer"], ["chip<->chip", "hbm", "chip"]];
const NAMES: Record<string, string> = { host: "Host memory", hbm: "HBM (device)", sbuf: "SBUF (NeuronCore)", psum: "PSUM", peer: "other NeuronCore", chip: "other chip" };

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function rate(bytesPerS: number): string {
  return `${(bytesPerS / 1e9).toFixed(1)} GB/s`;
}

function table(id: string, headers: string[], rows: string[][]): HTMLElement {
  return h("table", { className: "np-table", id }, h("thead", {}, h("tr", {}, ...headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c) => h("td", {}, c))))));
}

export const datapathView: View = {
  id: "datapath",
  title: "Data path",
  mount(container, context) {
    const plots: uPlot[] = [];
    container.append(h("p", { className: "np-loading" }, "Loading data path..."));
    const request = fetchInto(container, (signal) => getJSON<Datapath>("datapath", profileParams(context.state), signal), (data) => {
      clear(container);
      const byName = new Map(data.links.map((l) => [l.link, l]));
      const maxBytes = Math.max(1, ...data.links.map((l) => l.bytes));
      const diagram = el("svg", { id: "np-datapath-diagram", width: 640, height: 380, viewBox: "0 0 640 380" });
      for (const [name, a, b] of EDGES) {
        const link = byName.get(name);
        if (!link && (name === "core<->core" || name === "chip<->chip")) continue;
        const [x1, y1] = BOXES[a];
        const [x2, y2] = BOXES[b];
        const width = link ? 2 + 16 * Math.sqrt(link.bytes / maxBytes) : 1;
        const line = el("line", { x1: x1 + 90, y1: y1 + 20, x2: x2 + 90, y2: y2 + 20, stroke: link ? "#3c5aa0" : "#ccc",
          "stroke-width": width, "data-link": name });
        const label = el("text", { x: (x1 + x2) / 2 + 100 + (x1 === x2 ? 10 : 0), y: (y1 + y2) / 2 + 24, "font-size": 11 });
        label.textContent = link ? `${bytes(link.bytes)}  ${rate(link.achieved_bytes_per_s)} of ${rate(link.peak_bytes_per_s)}` : "no traffic";
        diagram.append(line, label);
      }
      for (const [key, [x, y]] of Object.entries(BOXES)) {
        if ((key === "peer" && !byName.has("core<->core")) || (key === "chip" && !byName.has("chip<->chip"))) continue;
        const box = el("rect", { x, y, width: 180, height: 40, rx: 6, fill: "#fff3e0", stroke: "#f57c00" });
        const text = el("text", { x: x + 10, y: y + 25, "font-size": 13 });
        text.textContent = NAMES[key];
        diagram.append(box, text);
      }
      container.append(h("h3", {}, "Bytes moved per inference, achieved vs peak bandwidth while active"), diagram);
      container.append(table("np-datapath-links", ["link", "bytes / inference", "transfers", "active", "achieved", "peak"],
        data.links.map((l) => [l.link, bytes(l.bytes), String(l.transfers), duration(l.active_ns), rate(l.achieved_bytes_per_s), rate(l.peak_bytes_per_s)])));
      container.append(h("h3", {}, "DMA bytes by purpose (per inference)"),
        table("np-datapath-purpose", ["purpose", "bytes"], Object.entries(data.by_purpose).sort((a, b) => b[1] - a[1]).map(([p, b]) => [p, bytes(b)])));
      const width = Math.max(400, (container.clientWidth || 900) - 20);
      for (const series of data.bandwidth) {
        const box = h("div", { className: "np-chart", "data-link": series.link });
        container.append(h("h3", {}, `Bandwidth over time: ${series.link} link`), box);
        const start = series.time_ns[0] ?? 0;
        plots.push(new uPlot({
          width, height: 160, scales: { x: { time: false } },
          axes: [{ label: "time (us)" }, { label: "GB/s" }],
          series: [{ label: "time" }, { label: "GB/s", stroke: "#3c5aa0", fill: "rgba(60,90,160,0.15)", points: { show: false },
            paths: uPlot.paths.stepped!({ align: 1 }) }],
        }, [series.time_ns.map((t) => (t - start) / 1e3), series.gbps], box));
      }
      container.append(h("h3", {}, "Largest transfers"), table("np-datapath-top", ["bytes", "from", "to", "purpose", "tensor", "duration"],
        data.top_transfers.map((t) => [bytes(t.bytes), t.src, t.dst, t.purpose, t.tensor, duration(t.duration_ns)])));
      container.append(h("h3", {}, "Tensors loaded from HBM more than twice per inference"),
        data.reloaded_tensors.length
          ? table("np-datapath-reloads", ["tensor", "loads", "bytes / inference"], data.reloaded_tensors.map((r) => [r.tensor, String(r.loads), bytes(r.bytes)]))
          : h("p", { className: "np-note", id: "np-datapath-reloads" }, "None: every tensor is loaded at most twice."));
    });
    return () => {
      request.abort();
      plots.forEach((p) => p.destroy());
    };
  },
};
