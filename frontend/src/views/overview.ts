// Overview: headline metrics, host vs device time, utilization per queue, top ops, recommendations.
import { getJSON } from "../api";
import { errorBox } from "../app";
import { clear, h } from "../dom";
import { bytes, count, duration, percent } from "../format";
import { profileParams, View } from "./types";

interface Overview {
  metadata: Record<string, string | number>;
  summary: Record<string, number>;
  span_ns: number;
  time: { host_busy_ns: number; device_busy_ns: number };
  utilization: { track: string; kind: string; busy_ns: number; percent: number; count: number }[];
  top_ops: { name: string[]; op_type: string[]; time_ns: number[]; percent: number[]; engine: string[]; node: number[] };
  recommendations: { kind: string; severity: string; message: string }[];
}

function card(label: string, value: string, id: string): HTMLElement {
  return h("div", { className: "np-card", "data-metric": id }, h("div", { className: "np-card-value" }, value),
    h("div", { className: "np-card-label" }, label));
}

export const overviewView: View = {
  id: "overview",
  title: "Overview",
  mount(container, context) {
    const controller = new AbortController();
    container.append(h("p", { className: "np-loading" }, "Loading overview..."));
    getJSON<Overview>("overview", profileParams(context.state), controller.signal).then((data) => {
      clear(container);
      const s = data.summary;
      const m = data.metadata;
      container.append(
        h("h2", {}, `${m.model} on ${m.target} (${m.autocast}, batch ${m.batch})`),
        h("div", { className: "np-cards" },
          card("latency p50", duration(s.latency_p50_ns), "latency_p50"),
          card("latency p99", duration(s.latency_p99_ns), "latency_p99"),
          card("throughput", `${count(s.throughput_inferences_per_s)}/s`, "throughput"),
          card("MFU", percent(s.mfu_estimated_percent), "mfu"),
          card("MBU", percent(s.mbu_estimated_percent), "mbu"),
          card("device busy", duration(data.time.device_busy_ns), "device_busy"),
          card("host (CPU fallback)", duration(data.time.host_busy_ns), "host_busy"),
          card("HBM read", bytes(s.hbm_read_bytes), "hbm_read")),
      );
      const recs = h("ul", { className: "np-recommendations" });
      for (const r of data.recommendations) recs.append(h("li", { className: `np-${r.severity}` }, r.message));
      if (!data.recommendations.length) recs.append(h("li", {}, "Nothing stands out in this profile."));
      container.append(h("h3", {}, "Recommendations"), recs);
      const bars = h("div", { className: "np-bars" });
      for (const u of data.utilization.filter((u) => u.kind !== "dma" || u.count > 0)) {
        const fill = h("div", { className: "np-bar-fill" });
        fill.style.width = `${Math.min(100, u.percent)}%`;
        bars.append(h("div", { className: "np-bar-row" }, h("span", { className: "np-bar-label" }, u.track),
          h("div", { className: "np-bar" }, fill), h("span", { className: "np-bar-value" }, percent(u.percent))));
      }
      container.append(h("h3", {}, "Utilization per engine and DMA queue"), bars);
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
    }).catch((error) => {
      if (controller.signal.aborted) return;
      clear(container);
      container.append(errorBox(error));
    });
    return () => controller.abort();
  },
};
