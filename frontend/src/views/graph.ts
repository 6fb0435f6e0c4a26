// Graph: the model laid out top to bottom (dagre) as SVG, with only the part on screen in the DOM. Name
// scopes start collapsed and expand on click; nodes are coloured by compute time (heat scale), placement or
// compatibility; click for details. This file wires graph/model.ts (scopes, layout), graph/render.ts (SVG),
// graph/controller.ts (input, URL state) and graph/panels.ts (legend, details).
import { getJSON } from "../api";
import { clear, h } from "../dom";
import { fetchInto } from "../show";
import { GraphController } from "./graph/controller";
import { GraphModel, Payload } from "./graph/model";
import { drawLegend, showDetails } from "./graph/panels";
import { GraphRenderer } from "./graph/render";
import { profileParams, View } from "./types";

export const graphView: View = {
  id: "graph",
  title: "Graph",
  mount(container, context) {
    const state = context.state;
    container.append(h("p", { className: "np-loading" }, "Loading graph..."));
    const request = fetchInto(container, (signal) => getJSON<Payload>("graph", profileParams(state), signal), (data) => {
      clear(container);
      const modeSelect = h("select", { id: "np-graph-color", "aria-label": "colour by" },
        h("option", { value: "time" }, "compute time"), h("option", { value: "placement" }, "device placement"),
        h("option", { value: "compatibility" }, "compatibility"),
        h("option", { value: "numerics", disabled: !data.nodes.some((n) => n.max_rel_err !== null),
          title: "bf16 vs fp32 error per op (profiles made with --check-numerics)" }, "numeric error"));
      const legend = h("div", { className: "np-legend", id: "np-graph-legend" });
      const canvas = h("div", { className: "np-graph", id: "np-graph" });
      const details = h("div", { className: "np-details", id: "np-graph-details" });
      const expandAll = h("button", { className: "np-button", id: "np-graph-expand" }, "Expand all");
      const collapseAll = h("button", { className: "np-button", id: "np-graph-collapse" }, "Collapse all");
      container.append(h("div", { className: "np-toolbar" }, h("label", {}, "Colour by ", modeSelect), expandAll, collapseAll, legend),
        h("div", { className: "np-graph-layout" }, canvas, details));

      const model = new GraphModel(data, (state.expanded ?? "").split(",").filter(Boolean), state.node);
      const renderer = new GraphRenderer(() => state.node, {
        expand: (scope) => controller.expand(scope),
        collapse: (scope) => controller.collapse(scope),
        pick: (node) => controller.pick(node),
      });
      const controller = new GraphController({ canvas, modeSelect, expandAll, collapseAll }, model, renderer, state, () => {
        drawLegend(legend, renderer);
        const selected = model.node(state.node);
        if (selected) {
          showDetails(details, selected, (node) => context.navigate({ view: "timeline", node: String(node.id), start_ns: undefined, end_ns: undefined }));
        }
      }, request.signal);
      controller.draw();
    });
    return () => request.abort();
  },
};
