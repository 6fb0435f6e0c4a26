// Graph: the model laid out top to bottom (dagre) as SVG. Name scopes start collapsed and expand on
// click; nodes are coloured by compute time (heat scale), placement or compatibility; click for details.
import dagre from "@dagrejs/dagre";
import { getJSON } from "../api";
import { errorBox } from "../app";
import { clear, h } from "../dom";
import { count, duration, percent } from "../format";
import { writeState } from "../state";
import { profileParams, View } from "./types";

interface GraphNode {
  id: number; name: string; op_type: string; scope: string; placement: string; supported: boolean; reason: string;
  engine: string; fused_into: string; time_ns: number; percent: number; flops: number; instructions: number;
  inputs: { name: string; shape: number[] | null }[]; outputs: { name: string; shape: number[] | null }[];
}
interface Scope { scope: string; depth: number; nodes: number; time_ns: number; cpu_nodes: number }
interface Payload { nodes: GraphNode[]; edges: [number, number][]; scopes: Scope[] }
interface Unit { key: string; label: string; sub: string; time: number; placement: string; supported: boolean; scope?: string; node?: GraphNode }

const SVG = "http://www.w3.org/2000/svg";
const PLACEMENT_COLORS: Record<string, string> = { neuron: "#5b8def", cpu: "#f57c00", fused: "#bdbdbd", mixed: "#9575cd" };

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function heat(fraction: number): string {
  const f = Math.max(0, Math.min(1, fraction));
  return `rgb(255, ${Math.round(245 - 190 * f)}, ${Math.round(235 - 220 * f)})`;
}

export const graphView: View = {
  id: "graph",
  title: "Graph",
  mount(container, context) {
    const controller = new AbortController();
    container.append(h("p", { className: "np-loading" }, "Loading graph..."));
    getJSON<Payload>("graph", profileParams(context.state), controller.signal).then((data) => {
      clear(container);
      const expanded = new Set<string>((context.state.expanded ?? "").split(",").filter(Boolean));
      let mode = context.state.color ?? "time";
      const modeSelect = h("select", { id: "np-graph-color", "aria-label": "colour by" },
        h("option", { value: "time" }, "compute time"), h("option", { value: "placement" }, "device placement"),
        h("option", { value: "compatibility" }, "compatibility"));
      modeSelect.value = mode;
      const legend = h("div", { className: "np-legend", id: "np-graph-legend" });
      const canvas = h("div", { className: "np-graph", id: "np-graph" });
      const details = h("div", { className: "np-details", id: "np-graph-details" });
      const allScopes = data.scopes.map((s) => s.scope);
      container.append(h("div", { className: "np-toolbar" }, h("label", {}, "Colour by ", modeSelect),
        h("button", { className: "np-button", id: "np-graph-expand", onclick: () => { allScopes.forEach((s) => expanded.add(s)); draw(); } }, "Expand all"),
        h("button", { className: "np-button", id: "np-graph-collapse", onclick: () => { expanded.clear(); draw(); } }, "Collapse all"),
        legend), h("div", { className: "np-graph-layout" }, canvas, details));
      modeSelect.addEventListener("change", () => { mode = modeSelect.value; draw(); });
      const focus = context.state.node ? data.nodes.find((n) => String(n.id) === context.state.node) : undefined;
      if (focus && focus.scope) {  // a node picked elsewhere (Ops, Timeline): open the scopes around it
        const parts = focus.scope.split("/");
        for (let depth = 1; depth <= parts.length; depth++) expanded.add(parts.slice(0, depth).join("/"));
      }
      const scopeInfo = new Map(data.scopes.map((s) => [s.scope, s]));
      const maxTime = Math.max(1, ...data.nodes.map((n) => n.time_ns));

      const unitOf = (node: GraphNode): string => {
        const parts = node.scope ? node.scope.split("/") : [];
        for (let depth = 1; depth <= parts.length; depth++) {
          const scope = parts.slice(0, depth).join("/");
          if (!expanded.has(scope)) return "s:" + scope;
        }
        return "n:" + node.id;
      };

      const colorOf = (u: Unit): string => {
        if (mode === "placement") return PLACEMENT_COLORS[u.placement] ?? "#ccc";
        if (mode === "compatibility") return u.supported ? "#81c784" : "#e57373";
        return heat(u.time / maxScaleTime);
      };
      let maxScaleTime = maxTime;

      const draw = () => {
        context.state.expanded = Array.from(expanded).join(",");
        context.state.color = mode;
        writeState(context.state);
        const units = new Map<string, Unit>();
        const unitOfNode = data.nodes.map(unitOf);
        data.nodes.forEach((node, i) => {
          const key = unitOfNode[i];
          if (key.startsWith("n:")) {
            units.set(key, { key, label: node.name.split("/").pop() || node.op_type, sub: node.op_type, time: node.time_ns,
              placement: node.placement, supported: node.supported, node });
            return;
          }
          const scope = key.slice(2);
          const unit = units.get(key) ?? { key, label: scope.split("/").pop() || scope, sub: "", time: 0, placement: "",
            supported: true, scope };
          unit.time += node.time_ns;
          unit.supported = unit.supported && node.supported;
          unit.placement = !unit.placement ? node.placement : unit.placement === node.placement ? unit.placement
            : node.placement === "fused" ? unit.placement : unit.placement === "fused" ? node.placement : "mixed";
          units.set(key, unit);
        });
        for (const unit of units.values()) {
          if (unit.scope) unit.sub = `${scopeInfo.get(unit.scope)?.nodes ?? 0} ops, ${duration(unit.time)}`;
        }
        maxScaleTime = Math.max(1, ...Array.from(units.values()).map((u) => u.time));
        const g = new dagre.graphlib.Graph({ multigraph: false });
        g.setGraph({ rankdir: "TB", nodesep: 16, ranksep: 28, marginx: 10, marginy: 10 });
        g.setDefaultEdgeLabel(() => ({}));
        for (const unit of units.values()) {
          g.setNode(unit.key, { width: Math.max(90, Math.min(220, 7 * Math.max(unit.label.length, unit.sub.length) + 16)), height: 36 });
        }
        for (const [a, b] of data.edges) {
          const ua = unitOfNode[a];
          const ub = unitOfNode[b];
          if (ua !== ub) g.setEdge(ua, ub);
        }
        dagre.layout(g);
        const graphLabel = g.graph() as { width?: number; height?: number };
        const width = graphLabel.width ?? 400;
        const height = graphLabel.height ?? 300;
        const root = svg("svg", { width: "100%", height: Math.min(Math.max(height, 200), 5000), viewBox: `0 0 ${width} ${height}` });
        root.setAttribute("preserveAspectRatio", "xMidYMin meet");
        for (const e of g.edges()) {
          const points = (g.edge(e) as { points: { x: number; y: number }[] }).points;
          root.append(svg("polyline", { points: points.map((p) => `${p.x},${p.y}`).join(" "), fill: "none", stroke: "#999", "stroke-width": 1 }));
        }
        for (const unit of units.values()) {
          const box = g.node(unit.key) as { x: number; y: number; width: number; height: number };
          const picked = unit.node !== undefined && String(unit.node.id) === context.state.node;
          const group = svg("g", { class: picked ? "np-graph-node np-picked" : "np-graph-node", "data-key": unit.key, transform: `translate(${box.x - box.width / 2},${box.y - box.height / 2})` });
          const rect = svg("rect", { width: box.width, height: box.height, rx: unit.scope ? 8 : 3, fill: colorOf(unit),
            stroke: picked ? "#d50000" : unit.scope ? "#555" : "#777", "stroke-width": picked ? 3 : 1,
            "stroke-dasharray": unit.scope ? "4 2" : "" });
          const title = svg("text", { x: 6, y: 15, "font-size": 11 });
          title.textContent = unit.label;
          const sub = svg("text", { x: 6, y: 29, "font-size": 10, fill: "#444" });
          sub.textContent = unit.sub;
          const tip = svg("title");
          tip.textContent = unit.scope ?? unit.node?.name ?? "";
          group.append(rect, title, sub, tip);
          group.addEventListener("click", () => {
            if (unit.scope) {
              expanded.add(unit.scope);
              draw();
            } else if (unit.node) {
              context.state.node = String(unit.node.id);
              draw();
            }
          });
          root.append(group);
        }
        clear(canvas);
        canvas.append(root);
        drawLegend();
        const selected = context.state.node ? data.nodes.find((n) => String(n.id) === context.state.node) : undefined;
        if (selected) showDetails(selected);
      };

      const drawLegend = () => {
        clear(legend);
        const entries: [string, string][] = mode === "placement"
          ? [["NeuronCore", PLACEMENT_COLORS.neuron], ["CPU fallback", PLACEMENT_COLORS.cpu], ["fused away", PLACEMENT_COLORS.fused], ["mixed scope", PLACEMENT_COLORS.mixed]]
          : mode === "compatibility" ? [["supported", "#81c784"], ["unsupported", "#e57373"]]
          : [["0", heat(0)], [duration(maxScaleTime / 2), heat(0.5)], [duration(maxScaleTime), heat(1)]];
        for (const [label, color] of entries) {
          const swatch = h("span", { className: "np-swatch" });
          swatch.style.background = color;
          legend.append(h("span", { className: "np-legend-item" }, swatch, label));
        }
      };

      const showDetails = (node: GraphNode) => {
        clear(details);
        const shape = (t: { name: string; shape: number[] | null }) => `${t.name} [${t.shape ? t.shape.join(", ") : "?"}]`;
        const rows: [string, string][] = [
          ["op", node.op_type], ["scope", node.scope || "-"], ["placement", node.placement],
          ["compatibility", node.supported ? "supported" : `unsupported: ${node.reason}`], ["engine", node.engine || "-"],
          ["fused into", node.fused_into || "-"], ["time / inference", duration(node.time_ns)], ["share", percent(node.percent)],
          ["FLOPs", count(node.flops)], ["instructions (group)", count(node.instructions)],
          ["inputs", node.inputs.map(shape).join("; ")], ["outputs", node.outputs.map(shape).join("; ")],
        ];
        const list = h("dl");
        for (const [k, v] of rows) list.append(h("dt", {}, k), h("dd", {}, v));
        details.append(h("h3", {}, node.name), list);
      };
      draw();
    }).catch((error) => {
      if (controller.signal.aborted) return;
      clear(container);
      container.append(errorBox(error));
    });
    return () => controller.abort();
  },
};
