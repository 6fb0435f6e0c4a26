// Graph: the model laid out top to bottom (dagre) as SVG, with only the part on screen in the DOM. Name
// scopes start collapsed and expand on click; nodes are coloured by compute time (heat scale), placement or
// compatibility; click for details.
import dagre from "@dagrejs/dagre";
import { getJSON } from "../api";
import { errorBox } from "../show";
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

interface Box { x: number; y: number; w: number; h: number }

function boxOf(points: { x: number; y: number }[]): Box {
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return { x, y, w: Math.max(...xs) - x + 1, h: Math.max(...ys) - y + 1 };
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
      const scopeParts = data.nodes.map((n) => (n.scope ? n.scope.split("/").filter(Boolean) : []));
      // per scope ("" is the root): the nodes under it and the edges between two of them
      const members = new Map<string, number[]>([["", data.nodes.map((n) => n.id)]]);
      data.nodes.forEach((n, i) => {
        for (let depth = 1; depth <= scopeParts[i].length; depth++) {
          const scope = scopeParts[i].slice(0, depth).join("/");
          let list = members.get(scope);
          if (!list) members.set(scope, list = []);
          list.push(i);
        }
      });
      const edgesUnder = new Map<string, [number, number][]>();
      const edgesOf = (scope: string): [number, number][] => {
        let list = edgesUnder.get(scope);
        if (list) return list;
        const prefix = scope.split("/");
        const inside = (i: number) => !scope || (scopeParts[i].length >= prefix.length && prefix.every((p, k) => scopeParts[i][k] === p));
        list = data.edges.filter(([a, b]) => inside(a) && inside(b));
        edgesUnder.set(scope, list);
        return list;
      };
      // the unit a node belongs to directly inside `scope`: itself, or the child scope that holds it
      const childOf = (scope: string, i: number): string => {
        const depth = scope ? scope.split("/").length : 0;
        if (scopeParts[i].length <= depth) return "n:" + i;
        const child = scopeParts[i].slice(0, depth + 1).join("/");
        return (expanded.has(child) ? "x:" : "s:") + child;
      };

      const colorOf = (u: Unit): string => {
        if (mode === "placement") return PLACEMENT_COLORS[u.placement] ?? "#ccc";
        if (mode === "compatibility") return u.supported ? "#81c784" : "#e57373";
        return heat(u.time / maxScaleTime);
      };
      let maxScaleTime = 1;

      // Hierarchical layout: each expanded scope is laid out on its own (dagre over its direct children,
      // expanded child scopes as boxes of their own layout's size), and cached by the scope and the
      // expanded scopes inside it, so expanding one scope lays out only it and its ancestors again.
      interface Placed { unit: Unit; x: number; y: number; w: number; h: number; inner?: Layout }
      interface Layout {
        width: number; height: number; placed: Placed[]; edges: { x: number; y: number }[][];
        edgeBoxes: Box[]; edgeElements?: SVGPolylineElement[];   // polylines made when first on screen
      }
      const layouts = new Map<string, Layout>();
      const shapes = new Map<string, { width: number; height: number; boxes: [number, number][]; edges: { x: number; y: number }[][] }>();
      const HEADER = 22;
      const PAD = 10;
      const unitFor = (key: string, nodesOfUnit: number[]): Unit => {
        if (key.startsWith("n:")) {
          const node = data.nodes[Number(key.slice(2))];
          return { key, label: node.name.split("/").pop() || node.op_type, sub: node.op_type, time: node.time_ns,
            placement: node.placement, supported: node.supported, node };
        }
        const scope = key.slice(2);
        const unit: Unit = { key, label: scope.split("/").pop() || scope, sub: "", time: 0, placement: "", supported: true, scope };
        for (const i of nodesOfUnit) {
          const node = data.nodes[i];
          unit.time += node.time_ns;
          unit.supported = unit.supported && node.supported;
          unit.placement = !unit.placement ? node.placement : unit.placement === node.placement ? unit.placement
            : node.placement === "fused" ? unit.placement : unit.placement === "fused" ? node.placement : "mixed";
        }
        unit.sub = `${scopeInfo.get(scope)?.nodes ?? nodesOfUnit.length} ops, ${duration(unit.time)}`;
        return unit;
      };
      const layoutOf = (scope: string): Layout => {
        const inner = Array.from(expanded).filter((e) => !scope || e.startsWith(scope + "/")).sort().join(",");
        const cacheKey = scope + "|" + inner;
        const cached = layouts.get(cacheKey);
        if (cached) return cached;
        const groups = new Map<string, number[]>();
        for (const i of members.get(scope) ?? []) {
          const key = childOf(scope, i);
          let list = groups.get(key);
          if (!list) groups.set(key, list = []);
          list.push(i);
        }
        const placed = new Map<string, Placed>();
        for (const [key, nodesOfUnit] of groups) {
          const unit = unitFor(key, nodesOfUnit);
          const sub = key.startsWith("x:") ? layoutOf(key.slice(2)) : undefined;
          const w = sub ? Math.max(sub.width, 7 * (unit.label.length + unit.sub.length) + 40) : Math.max(90, Math.min(220, 7 * Math.max(unit.label.length, unit.sub.length) + 16));
          const hgt = sub ? sub.height + HEADER : 36;
          placed.set(key, { unit, x: 0, y: 0, w, h: hgt, inner: sub });
        }
        const keys = Array.from(placed.keys());
        const position = new Map(keys.map((k, i) => [k, i]));
        const edges = new Set<string>();
        for (const [a, b] of edgesOf(scope)) {
          const ua = childOf(scope, a);
          const ub = childOf(scope, b);
          if (ua !== ub) edges.add(`${position.get(ua)}>${position.get(ub)}`);
        }
        // repeated blocks (the layers of a transformer) have the same shape: lay one out, reuse it
        const shape = keys.map((k) => `${k[0]}${Math.round(placed.get(k)!.w)}x${Math.round(placed.get(k)!.h)}`).join(",")
          + "|" + Array.from(edges).sort().join(",");
        let geometry = shapes.get(shape);
        if (!geometry) {
          const g = new dagre.graphlib.Graph({ multigraph: false });
          g.setGraph({ rankdir: "TB", nodesep: 16, ranksep: 28, marginx: PAD, marginy: PAD });
          g.setDefaultEdgeLabel(() => ({}));
          keys.forEach((k, i) => g.setNode(String(i), { width: placed.get(k)!.w, height: placed.get(k)!.h }));
          for (const e of edges) {
            const [a, b] = e.split(">");
            g.setEdge(a, b);
          }
          dagre.layout(g);
          const label = g.graph() as { width?: number; height?: number };
          geometry = {
            width: label.width ?? 200, height: label.height ?? 100,
            boxes: keys.map((_, i) => g.node(String(i)) as { x: number; y: number }).map((b) => [b.x, b.y] as [number, number]),
            edges: g.edges().map((e) => (g.edge(e) as { points: { x: number; y: number }[] }).points),
          };
          shapes.set(shape, geometry);
        }
        keys.forEach((k, i) => {
          const p = placed.get(k)!;
          p.x = geometry!.boxes[i][0] - p.w / 2;
          p.y = geometry!.boxes[i][1] - p.h / 2;
        });
        const layout: Layout = { width: geometry.width, height: geometry.height, placed: Array.from(placed.values()),
          edges: geometry.edges, edgeBoxes: geometry.edges.map(boxOf) };
        layouts.set(cacheKey, layout);
        return layout;
      };

      const elements = new Map<string, SVGGElement>();
      const root = svg("svg", {});
      const clusterElement = (unit: Unit): SVGGElement => {  // an expanded scope: its title collapses it
        const cluster = svg("g", { class: "np-graph-scope", "data-key": unit.key });
        const frame = svg("rect", { rx: 6, fill: "rgba(120, 130, 160, 0.06)", stroke: "#9e9e9e", "stroke-dasharray": "4 2" });
        const header = svg("text", { x: 6, y: 15, "font-size": 11, fill: "#555", class: "np-graph-scope-title" });
        header.textContent = `\u25BE ${unit.label}  (${unit.sub})`;
        const tip = svg("title");
        tip.textContent = `${unit.scope}: click to collapse`;
        header.append(tip);
        header.addEventListener("click", () => {
          for (const e of Array.from(expanded)) if (e === unit.scope || e.startsWith(unit.scope + "/")) expanded.delete(e);
          draw();
        });
        cluster.append(frame, header, svg("g", { transform: `translate(0,${HEADER})` }));
        return cluster;
      };
      const nodeElement = (unit: Unit): SVGGElement => {
        const group = svg("g", { class: "np-graph-node", "data-key": unit.key });
        const rect = svg("rect", { rx: unit.scope ? 8 : 3, "stroke-dasharray": unit.scope ? "4 2" : "" });
        const title = svg("text", { x: 6, y: 15, "font-size": 11 });
        title.textContent = unit.label;
        const sub = svg("text", { x: 6, y: 29, "font-size": 10, fill: "#444" });
        sub.textContent = unit.sub;
        const tip = svg("title");
        tip.textContent = unit.scope ? `${unit.scope}: click to expand` : unit.node?.name ?? "";
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
        return group;
      };

      // Only what is on screen, and a screen around it, is in the DOM: a 2,000-node graph expanded holds
      // about 18,000 SVG elements, which the browser restyles and repaints on every change. Scrolling attaches
      // the elements that come into view (made once per unit and kept; updated whenever attached).
      let current: Layout | null = null;
      const viewport = (): Box => {
        const w = canvas.clientWidth || 1200;
        const hgt = canvas.clientHeight || 800;
        return { x: canvas.scrollLeft - w, y: canvas.scrollTop - hgt, w: 3 * w, h: 3 * hgt };
      };
      const meets = (v: Box, x: number, y: number, w: number, hgt: number) =>
        x < v.x + v.w && x + w > v.x && y < v.y + v.h && y + hgt > v.y;
      const isPicked = (unit: Unit) => unit.node !== undefined && String(unit.node.id) === context.state.node;
      const render = (l: Layout, parent: SVGElement, ox: number, oy: number, view: Box): number => {
        let edges = parent.firstChild as SVGGElement | null;
        if (!edges || !(edges as Element).classList?.contains("np-graph-edges")) {
          edges = svg("g", { class: "np-graph-edges" });
          parent.insertBefore(edges, parent.firstChild);
        }
        const lines = l.edgeElements ??= [];
        const wanted: SVGPolylineElement[] = [];
        l.edgeBoxes.forEach((b, i) => {
          if (!meets(view, ox + b.x, oy + b.y, b.w, b.h)) return;
          lines[i] ??= svg("polyline", { points: l.edges[i].map((p) => `${p.x},${p.y}`).join(" "), fill: "none", stroke: "#999", "stroke-width": 1 });
          wanted.push(lines[i]);
        });
        if (edges.childNodes.length !== wanted.length || wanted.some((line, i) => edges!.childNodes[i] !== line)) edges.replaceChildren(...wanted);
        let shown = 0;
        const keep = new Set<Element>([edges]);
        for (const p of l.placed) {
          if (!meets(view, ox + p.x, oy + p.y, p.w, p.h)) continue;
          const unit = p.unit;
          const key = (p.inner ? "x:" : "u:") + unit.key;
          let el = elements.get(key);
          if (!el) {
            el = p.inner ? clusterElement(unit) : nodeElement(unit);
            elements.set(key, el);
          }
          el.setAttribute("transform", `translate(${p.x},${p.y})`);
          const rect = el.firstChild as SVGRectElement;
          rect.setAttribute("width", String(p.w));
          rect.setAttribute("height", String(p.h));
          if (p.inner) {
            shown += render(p.inner, el.lastChild as SVGGElement, ox + p.x, oy + p.y + HEADER, view);
          } else {
            const picked = isPicked(unit);
            rect.setAttribute("fill", colorOf(unit));
            rect.setAttribute("stroke", picked ? "#d50000" : unit.scope ? "#555" : "#777");
            rect.setAttribute("stroke-width", picked ? "3" : "1");
            el.setAttribute("class", picked ? "np-graph-node np-picked" : "np-graph-node");
            shown++;
          }
          if (el.parentNode !== parent) parent.append(el);
          keep.add(el);
        }
        for (const child of Array.from(parent.childNodes)) if (!keep.has(child as Element)) parent.removeChild(child);
        return shown;
      };
      // the centre of the picked node in the whole layout, on screen or not
      const locatePicked = (l: Layout, ox: number, oy: number): { x: number; y: number } | null => {
        for (const p of l.placed) {
          if (p.inner) {
            const found = locatePicked(p.inner, ox + p.x, oy + p.y + HEADER);
            if (found) return found;
          } else if (isPicked(p.unit)) {
            return { x: ox + p.x + p.w / 2, y: oy + p.y + p.h / 2 };
          }
        }
        return null;
      };
      const place = () => {
        if (!current) return;
        canvas.dataset.shown = String(render(current, root, 0, 0, viewport()));
      };
      let scrollFrame = 0;
      const schedulePlace = () => {
        if (!scrollFrame) scrollFrame = requestAnimationFrame(() => { scrollFrame = 0; place(); });
      };
      canvas.addEventListener("scroll", schedulePlace, { passive: true });
      window.addEventListener("resize", schedulePlace, { signal: controller.signal });   // removed when the view goes

      const draw = () => {
        const started = performance.now();
        context.state.expanded = Array.from(expanded).join(",");
        context.state.color = mode;
        writeState(context.state);
        const layout = layoutOf("");
        performance.measure("np-graph-layout", { start: started, end: performance.now() });
        const leaves: Unit[] = [];
        const collect = (l: Layout) => l.placed.forEach((p) => (p.inner ? collect(p.inner) : leaves.push(p.unit)));
        collect(layout);
        maxScaleTime = Math.max(1, ...leaves.map((u) => u.time));
        const height = Math.max(layout.height, 100);
        root.setAttribute("width", String(Math.ceil(layout.width)));
        root.setAttribute("height", String(Math.ceil(height)));
        root.setAttribute("viewBox", `0 0 ${layout.width} ${height}`);
        if (root.parentNode !== canvas) {
          clear(canvas);
          canvas.append(root);
        }
        current = layout;
        const target = !pickedShown && context.state.node ? locatePicked(layout, 0, 0) : null;
        if (target) {  // bring a node picked elsewhere (Ops, Timeline) into view once
          pickedShown = true;
          canvas.scrollTo(target.x - canvas.clientWidth / 2, target.y - canvas.clientHeight / 2);
        }
        place();
        if (target) canvas.querySelector(".np-picked")?.scrollIntoView({ block: "center", inline: "center" });
        drawLegend();
        const selected = context.state.node ? data.nodes.find((n) => String(n.id) === context.state.node) : undefined;
        if (selected) showDetails(selected);
        canvas.dataset.units = String(leaves.length);
        performance.measure("np-graph-draw", { start: started, end: performance.now() });
      };
      let pickedShown = false;

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
        if (node.time_ns > 0 || node.placement !== "fused") {
          details.append(h("button", { className: "np-button", id: "np-graph-show-timeline",
            onclick: () => context.navigate({ view: "timeline", node: String(node.id), start_ns: undefined, end_ns: undefined }) },
          "Show in timeline"));
        }
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
