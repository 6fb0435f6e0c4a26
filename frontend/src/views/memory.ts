// Memory: SBUF and PSUM bytes in use per core, and HBM bytes in use, over time (uPlot step charts with the
// capacity line), and the HBM traffic figures of the profile.
import uPlot from "uplot";
import { getJSON } from "../api";
import { Memory } from "../contract";
import { clear, h } from "../dom";
import { bytes, duration } from "../format";
import { fetchInto } from "../show";
import { profileParams, View } from "./types";


export const memoryView: View = {
  id: "memory",
  title: "Memory",
  mount(container, context) {
    const plots: uPlot[] = [];
    container.append(h("p", { className: "np-loading" }, "Loading memory..."));
    const request = fetchInto(container, (signal) => getJSON<Memory>("memory", { ...profileParams(context.state), points: 1500 }, signal), (data) => {
      clear(container);
      const hbm = data.hbm;
      container.append(h("div", { className: "np-cards" },
        ...[["weights in HBM", hbm.weights_bytes], ["weight reads / inference", hbm.weight_reads_per_inference_bytes],
          ["spills / inference", hbm.spill_bytes_per_inference], ["HBM capacity", hbm.capacity_bytes]]
          .map(([label, value]) => h("div", { className: "np-card" }, h("div", { className: "np-card-value" }, bytes(value as number)),
            h("div", { className: "np-card-label" }, String(label))))));
      if (!data.series.length) {
        container.append(h("p", { className: "np-note" }, "This profile has no memory occupancy data (an imported trace)."));
        return;
      }
      const width = Math.max(400, (container.clientWidth || 900) - 20);
      for (const s of data.series) {
        const where = s.memory === "hbm" ? "device memory (weights, staged inputs and outputs, spills)" : `NeuronCore ${s.core}`;
        const title = `${s.memory.toUpperCase()}, ${where}: peak ${bytes(s.peak_bytes)} of ${bytes(s.capacity_bytes)}`;
        const box = h("div", { className: "np-chart", "data-memory": s.memory, "data-core": String(s.core) });
        container.append(h("h3", {}, title), box);
        const x = s.time_ns.map((t) => (t - data.span_start_ns) / 1e3);
        const capacity = s.time_ns.map(() => s.capacity_bytes);
        plots.push(new uPlot({
          width, height: 180,
          scales: { x: { time: false } },
          axes: [{ label: "time (us)" }, { values: (_u, ticks) => ticks.map((v) => bytes(v)), size: 84 }],
          series: [
            { label: "time", value: (_u, v) => (v === null ? "-" : duration(v * 1e3)) },
            { label: "in use", stroke: "#3c5aa0", fill: "rgba(60,90,160,0.15)", paths: uPlot.paths.stepped!({ align: 1 }), points: { show: false },
              value: (_u, v) => (v === null ? "-" : bytes(v)) },
            { label: "capacity", stroke: "#e53935", dash: [6, 4], points: { show: false }, value: (_u, v) => (v === null ? "-" : bytes(v)) },
          ],
        }, [x, s.bytes, capacity], box));
      }
    });
    return () => {
      request.abort();
      plots.forEach((p) => p.destroy());
    };
  },
};
