// Overview: headline metrics, host vs device time, utilization per queue, top ops, recommendations; for
// multi-core profiles the NeuronCores, pipeline stages and request stream; for imported traces the import
// accounting (which events mapped to the profile and why the others did not).
import { getJSON } from "../api";
import { Deployment, Overview } from "../contract";
import { clear, h } from "../dom";
import { bytes, count, duration, percent } from "../format";
import { fetchInto } from "../show";
import { numericsSection } from "./numerics";
import { profileParams, View } from "./types";

function card(label: string, value: string, id: string): HTMLElement {
  return h("div", { className: "np-card", "data-metric": id }, h("div", { className: "np-card-value" }, value),
    h("div", { className: "np-card-label" }, label));
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && isFinite(value) ? value : undefined;
}

function counts(value: unknown): [string, number][] {
  if (!value || typeof value !== "object") return [];
  return Object.entries(value as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === "number");
}

function bar(value: number, extra = ""): HTMLElement {
  const fill = h("div", { className: `np-bar-fill ${extra}`.trim() });
  fill.style.width = `${Math.max(0, Math.min(100, value))}%`;
  return h("div", { className: "np-bar np-bar-inline" }, fill);
}

function table(id: string, headers: string[], rows: HTMLTableRowElement[]): HTMLTableElement {
  return h("table", { className: "np-table np-table-compact", id },
    h("thead", {}, h("tr", {}, ...headers.map((text) => h("th", {}, text)))), h("tbody", {}, ...rows));
}

// The title: a compiled model on a simulated device, or the source of an imported trace.
function title(m: Overview["metadata"], imported: boolean): HTMLElement[] {
  if (!imported) return [h("h2", {}, `${m.model} on ${m.target} (${m.autocast}, batch ${m.batch})`)];
  const on = m.target ? ` on ${m.target}` : "";
  return [h("h2", {}, `${m.model}: imported Chrome trace${on}`),
    h("p", { className: "np-note", id: "np-overview-source" }, `Imported by ${m.producer} from a Chrome trace-event file `
      + "(e.g. the PyTorch profiler's); figures of the simulated device that the trace does not hold (MFU, MBU, HBM traffic) are left out.")];
}

// Cores, pipeline stages and the request stream of a multi-core or served profile.
function deploymentSection(d: Deployment | undefined, imported: boolean): HTMLElement[] {
  if (!d) return [];
  const out: HTMLElement[] = [];
  const multi = d.cores.length > 1 || d.stages.length > 0;
  if (multi && !imported) {
    const coreRows = d.cores.map((c) => h("tr", { "data-core": c.core }, h("td", {}, `nc${c.core}`), h("td", {}, String(c.chip)),
      h("td", {}, bar(c.engine_percent)), h("td", {}, percent(c.engine_percent)),
      h("td", {}, bar(c.dma_percent, "np-bar-dma")), h("td", {}, percent(c.dma_percent))));
    out.push(h("h3", {}, "NeuronCores"), table("np-cores", ["core", "chip", "engine busy", "", "DMA busy", ""], coreRows));
  }
  if (d.stages.length && !imported) {
    const worst = d.bottleneck_stage ?? null;
    const stageRows = d.stages.map((s) => {
      const slow = s.stage === worst;
      return h("tr", { "data-stage": s.stage, className: slow && "np-bottleneck", title: slow && "the slowest stage sets the pipeline's pace" },
        h("td", {}, String(s.stage), slow ? h("span", { className: "np-tag" }, "bottleneck") : null),
        h("td", {}, `nc${s.core}`), h("td", {}, count(s.nodes)), h("td", {}, duration(s.busy_per_request_ns)),
        h("td", {}, percent(s.busy_percent)), h("td", {}, bar(s.bubble_percent, "np-bar-bubble")), h("td", {}, percent(s.bubble_percent)));
    });
    out.push(h("h3", {}, "Pipeline stages"),
      table("np-stages", ["stage", "core", "nodes", "busy per request", "busy %", "bubble", "bubble %"], stageRows));
  }
  const st = d.stream;
  // one core serving requests one after another: the headline cards already say it all
  const overlapping = st.requests > 1 && (st.mean_in_flight ?? 1) > 1.01;
  if (!imported && st.requests > 0 && (multi || overlapping)) {
    out.push(h("h3", {}, "Request stream"), h("div", { className: "np-cards", id: "np-stream" },
      card("requests", count(st.requests), "stream_requests"),
      card("latency p50", duration(st.latency_p50_ns), "stream_p50"),
      card("latency p90", duration(st.latency_p90_ns), "stream_p90"),
      card("latency p99", duration(st.latency_p99_ns), "stream_p99"),
      card("mean in flight", st.mean_in_flight === undefined ? "-" : st.mean_in_flight.toFixed(2), "stream_in_flight")));
  }
  return out;
}

// An imported trace's accounting: every source event is mapped (by kind) or counted with its reason.
function importSection(s: Overview["summary"]): HTMLElement[] {
  const total = num(s.import_events_total);
  if (total === undefined) return [];
  const mapped = counts(s.import_mapped);
  const unmapped = counts(s.import_unmapped);
  const mappedTotal = num(s.import_events_mapped) ?? mapped.reduce((a, [, n]) => a + n, 0);
  const unmappedTotal = unmapped.reduce((a, [, n]) => a + n, 0);
  const rows = [
    ...mapped.map(([kind, n]) => h("tr", { "data-status": "mapped" }, h("td", {}, "mapped"), h("td", {}, kind), h("td", {}, count(n)))),
    ...unmapped.map(([reason, n]) => h("tr", { "data-status": "unmapped" }, h("td", {}, "not mapped"), h("td", {}, reason), h("td", {}, count(n)))),
  ];
  return [h("h3", {}, `Imported events: ${count(mappedTotal)} of ${count(total)} mapped, ${count(unmappedTotal)} not mapped`),
    table("np-import-accounting", ["", "kind or reason", "events"], rows)];
}

export const overviewView: View = {
  id: "overview",
  title: "Overview",
  mount(container, context) {
    container.append(h("p", { className: "np-loading" }, "Loading overview..."));
    const request = fetchInto(container, (signal) => getJSON<Overview>("overview", profileParams(context.state), signal), (data) => {
      clear(container);
      const s = data.summary;
      const m = data.metadata;
      const imported = m.source_format === "chrome";
      // an imported trace holds no device model: figures it lacks (or that are zero) are left out, not shown as "-" or 0
      const shown = (value: unknown) => !imported || (num(value) ?? 0) > 0;
      container.append(
        ...title(m, imported),
        h("div", { className: "np-cards" },
          card(imported ? "step p50" : "latency p50", duration(num(s.latency_p50_ns)), "latency_p50"),
          card(imported ? "step p99" : "latency p99", duration(num(s.latency_p99_ns)), "latency_p99"),
          shown(s.throughput_inferences_per_s) &&
            card(imported ? "steps/s" : "throughput", `${count(num(s.throughput_inferences_per_s))}/s`, "throughput"),
          shown(s.mfu_estimated_percent) && card("MFU", percent(num(s.mfu_estimated_percent)), "mfu"),
          shown(s.mbu_estimated_percent) && card("MBU", percent(num(s.mbu_estimated_percent)), "mbu"),
          shown(data.time.device_busy_ns) && card("device busy", duration(data.time.device_busy_ns), "device_busy"),
          card(imported ? "CPU" : "host (CPU fallback)", duration(data.time.host_busy_ns), "host_busy"),
          shown(data.traffic.hbm_read_bytes) && card("HBM read / inference", bytes(data.traffic.hbm_read_bytes), "hbm_read")),
      );
      const recs = h("ul", { className: "np-recommendations" });
      for (const r of data.recommendations) recs.append(h("li", { className: `np-${r.severity}`, "data-kind": r.kind }, r.message));
      if (!data.recommendations.length) recs.append(h("li", {}, "Nothing stands out in this profile."));
      container.append(h("h3", {}, "Recommendations"), recs, ...deploymentSection(data.deployment, imported), ...importSection(s),
        ...numericsSection(data.numerics, (node) => context.navigate({ view: "graph", node: String(node) })));
      const bars = h("div", { className: "np-bars" });
      for (const u of data.utilization.filter((u) => u.kind !== "dma" || u.count > 0)) {
        const fill = h("div", { className: "np-bar-fill" });
        fill.style.width = `${Math.min(100, u.percent)}%`;
        bars.append(h("div", { className: "np-bar-row" }, h("span", { className: "np-bar-label" }, u.track),
          h("div", { className: "np-bar" }, fill), h("span", { className: "np-bar-value" }, percent(u.percent))));
      }
      container.append(h("h3", {}, imported ? "Utilization per track" : "Utilization per engine and DMA queue"), bars);
      const top = h("table", { className: "np-table", id: "np-top-ops" },
        h("thead", {}, h("tr", {}, h("th", {}, "op"), h("th", {}, "type"), h("th", {}, "engine"), h("th", {}, "time"), h("th", {}, "%"))));
      const tbody = h("tbody");
      data.top_ops.name.forEach((name, i) => {
        const node = String(data.top_ops.node[i]);
        tbody.append(h("tr", { "data-node": node, title: "show in the graph", className: "np-clickable",
          onclick: () => context.navigate({ view: "graph", node }) }, h("td", {}, name), h("td", {}, data.top_ops.op_type[i]), h("td", {}, data.top_ops.engine[i]),
          h("td", {}, duration(data.top_ops.time_ns[i])), h("td", {}, percent(data.top_ops.percent[i]))));
      });
      top.append(tbody);
      container.append(h("h3", {}, "Top ops"), top);
    });
    return () => request.abort();
  },
};
