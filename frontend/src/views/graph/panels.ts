// The graph's DOM beside the drawing: the colour legend and the details of the picked node.
import { clear, h } from "../../dom";
import { cosine, count, duration, percent, relError } from "../../format";
import { GraphNode } from "./model";
import { errorShade, GraphRenderer, heat, NOT_COMPARED, PLACEMENT_COLORS, SUPPORTED, UNSUPPORTED } from "./render";

export function drawLegend(legend: HTMLElement, renderer: GraphRenderer): void {
  clear(legend);
  const max = renderer.maxScaleTime;
  const entries: [string, string][] = renderer.mode === "placement"
    ? [["NeuronCore", PLACEMENT_COLORS.neuron], ["CPU fallback", PLACEMENT_COLORS.cpu], ["fused away", PLACEMENT_COLORS.fused], ["mixed scope", PLACEMENT_COLORS.mixed]]
    : renderer.mode === "compatibility" ? [["supported", SUPPORTED], ["unsupported", UNSUPPORTED]]
    : renderer.mode === "numerics" ? [["0", errorShade(0)], [relError(renderer.maxScaleError / 2), errorShade(0.5)],
      [`${relError(renderer.maxScaleError)} max rel err`, errorShade(1)], ["not compared", NOT_COMPARED]]
    : [["0", heat(0)], [duration(max / 2), heat(0.5)], [duration(max), heat(1)]];
  for (const [label, color] of entries) {
    const swatch = h("span", { className: "np-swatch" });
    swatch.style.background = color;
    legend.append(h("span", { className: "np-legend-item" }, swatch, label));
  }
}

// A node's details; "Show in timeline" (for a node that runs) calls `showInTimeline`.
export function showDetails(details: HTMLElement, node: GraphNode, showInTimeline: (node: GraphNode) => void): void {
  clear(details);
  const shape = (t: { name: string; shape: number[] | null }) => `${t.name} [${t.shape ? t.shape.join(", ") : "?"}]`;
  const rows: [string, string][] = [
    ["op", node.op_type], ["scope", node.scope || "-"], ["placement", node.placement],
    ["compatibility", node.supported ? "supported" : `unsupported: ${node.reason}`], ["engine", node.engine || "-"],
    ["fused into", node.fused_into || "-"], ["time / inference", duration(node.time_ns)], ["share", percent(node.percent)],
    ["FLOPs", count(node.flops)], ["instructions (group)", count(node.instructions)],
    ["inputs", node.inputs.map(shape).join("; ")], ["outputs", node.outputs.map(shape).join("; ")],
  ];
  if (node.max_rel_err !== null) rows.push(["max rel err (bf16 vs fp32)", relError(node.max_rel_err)], ["cosine", cosine(node.cosine)]);
  const list = h("dl");
  for (const [k, v] of rows) list.append(h("dt", {}, k), h("dd", {}, v));
  details.append(h("h3", {}, node.name), list);
  if (node.time_ns > 0 || node.placement !== "fused") {
    details.append(h("button", { className: "np-button", id: "np-graph-show-timeline", onclick: () => showInTimeline(node) },
      "Show in timeline"));
  }
}
