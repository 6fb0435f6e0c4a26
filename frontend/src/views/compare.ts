// Compare: the selected profile against another (e.g. bf16 vs fp32): metrics side by side with their ratio,
// and per-op time deltas matched by node name, largest change first.
import { getJSON } from "../api";
import { Compare, CompareSide } from "../contract";
import { h } from "../dom";
import { duration } from "../format";
import { fetchInto } from "../show";
import { compareNumericsSection } from "./numerics";
import { profileParams, View } from "./types";

function metricValue(name: string, value: number | null): string {
  if (value === null) return "-";
  if (name.endsWith("_ns")) return duration(value);
  if (name.endsWith("_percent")) return `${value.toFixed(1)}%`;
  return value >= 1000 ? value.toExponential(3) : value.toFixed(2);
}

export const compareView: View = {
  id: "compare",
  title: "Compare",
  mount(container, context) {
    const state = context.state;
    const choices = context.runs.flatMap((r) => r.profiles.map((p) => ({ run: r.run, profile: p.profile })));
    const picker = h("select", { id: "np-compare-other", "aria-label": "compare with" }, h("option", { value: "" }, "choose a profile"));
    for (const c of choices) {
      const option = h("option", { value: `${c.run}\u0000${c.profile}` }, `${c.run} / ${c.profile}`);
      option.selected = c.run === state.other_run && c.profile === state.other_profile;
      picker.append(option);
    }
    picker.addEventListener("change", () => {
      const [run, profile] = picker.value.split("\u0000");
      context.navigate({ other_run: run || undefined, other_profile: profile || undefined });
    });
    const body = h("div", { id: "np-compare-body" });
    container.append(h("div", { className: "np-toolbar" }, h("label", {}, "Compare with ", picker)), body);
    if (!state.other_run) {
      body.append(h("p", { className: "np-note" }, "Pick a second profile (for example the same model in fp32, or on another target)."));
      return;
    }
    const request = fetchInto(body, (signal) => getJSON<Compare>("compare",
      { ...profileParams(state), other_run: state.other_run, other_profile: state.other_profile }, signal), (data) => {
      const label = (x: CompareSide) => `${x.model} ${x.target} ${x.autocast} b${x.batch}`;
      const metrics = h("tbody");
      for (const m of data.metrics) {
        metrics.append(h("tr", {}, h("td", {}, m.metric), h("td", {}, metricValue(m.metric, m.base)),
          h("td", {}, metricValue(m.metric, m.other)), h("td", {}, m.ratio === null ? "-" : `${m.ratio.toFixed(2)}x`)));
      }
      const ops = h("tbody");
      for (const op of data.ops) {
        const delta = op.delta_ns === null ? "only in one" : `${op.delta_ns >= 0 ? "+" : ""}${duration(op.delta_ns)}`;
        ops.append(h("tr", {}, h("td", {}, op.name), h("td", {}, op.op_type), h("td", {}, duration(op.base_ns)),
          h("td", {}, duration(op.other_ns)), h("td", { className: op.delta_ns !== null && op.delta_ns > 0 ? "np-worse" : "np-better" }, delta)));
      }
      body.append(
        h("table", { className: "np-table", id: "np-compare-metrics" }, h("thead", {}, h("tr", {}, h("th", {}, "metric"),
          h("th", {}, label(data.base)), h("th", {}, label(data.other)), h("th", {}, "ratio"))), metrics),
        ...compareNumericsSection(data.numerics, label(data.base), label(data.other)),
        h("h3", {}, `Ops: ${data.matched_ops} matched by name, ${data.unmatched_ops} in only one profile`),
        h("table", { className: "np-table", id: "np-compare-ops" }, h("thead", {}, h("tr", {}, h("th", {}, "op"), h("th", {}, "type"),
          h("th", {}, "base"), h("th", {}, "other"), h("th", {}, "delta"))), ops));
    });
    return () => request.abort();
  },
};
