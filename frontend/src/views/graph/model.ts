// The graph's model: the served nodes, edges and scopes, which scopes are expanded, and the hierarchical layout.
// Each expanded scope is laid out on its own (dagre over its direct children, expanded child scopes as boxes of
// their own layout's size), and cached by the scope and the expanded scopes inside it, so expanding one scope
// lays out only it and its ancestors again; repeated blocks of the same shape are laid out once.
import dagre from "@dagrejs/dagre";
import { Graph, GraphNode, Scope } from "../../contract";
import { duration } from "../../format";

export type { GraphNode };
export type Payload = Graph;
// A box of the layout: a node ("n:" key), a collapsed scope ("s:") or an expanded one ("x:").
// relErr: the numerics check's max relative error (a scope: its largest), null where nothing was compared.
export interface Unit { key: string; label: string; sub: string; time: number; placement: string; supported: boolean; relErr: number | null; scope?: string; node?: GraphNode }
export interface Box { x: number; y: number; w: number; h: number }
export interface Placed { unit: Unit; x: number; y: number; w: number; h: number; inner?: Layout }
export interface Layout {
  width: number; height: number; placed: Placed[]; edges: { x: number; y: number }[][];
  edgeBoxes: Box[]; edgeElements?: SVGPolylineElement[];   // polylines made when first on screen (by the renderer)
}

export const HEADER = 22;   // the title bar of an expanded scope
const PAD = 10;

function boxOf(points: { x: number; y: number }[]): Box {
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return { x, y, w: Math.max(...xs) - x + 1, h: Math.max(...ys) - y + 1 };
}

export class GraphModel {
  readonly expanded: Set<string>;
  readonly allScopes: string[];
  private scopeInfo: Map<string, Scope>;
  private scopeParts: string[][];
  private members = new Map<string, number[]>();   // per scope ("" is the root): the nodes under it
  private edgesUnder = new Map<string, [number, number][]>();
  private layouts = new Map<string, Layout>();
  private shapes = new Map<string, { width: number; height: number; boxes: [number, number][]; edges: { x: number; y: number }[][] }>();

  // `expanded`: the scopes open at first (from the URL); `focus`: a node picked elsewhere, whose scopes open too.
  constructor(readonly data: Payload, expanded: string[], focus: string | undefined) {
    this.expanded = new Set(expanded);
    this.allScopes = data.scopes.map((s) => s.scope);
    const picked = focus ? data.nodes.find((n) => String(n.id) === focus) : undefined;
    if (picked && picked.scope) {  // a node picked elsewhere (Ops, Timeline): open the scopes around it
      const parts = picked.scope.split("/");
      for (let depth = 1; depth <= parts.length; depth++) this.expanded.add(parts.slice(0, depth).join("/"));
    }
    this.scopeInfo = new Map(data.scopes.map((s) => [s.scope, s]));
    this.scopeParts = data.nodes.map((n) => (n.scope ? n.scope.split("/").filter(Boolean) : []));
    this.members.set("", data.nodes.map((n) => n.id));
    data.nodes.forEach((n, i) => {
      for (let depth = 1; depth <= this.scopeParts[i].length; depth++) {
        const scope = this.scopeParts[i].slice(0, depth).join("/");
        let list = this.members.get(scope);
        if (!list) this.members.set(scope, list = []);
        list.push(i);
      }
    });
  }

  node(id: string | undefined): GraphNode | undefined {
    return id ? this.data.nodes.find((n) => String(n.id) === id) : undefined;
  }

  expandAll(): void {
    this.allScopes.forEach((s) => this.expanded.add(s));
  }

  collapseAll(): void {
    this.expanded.clear();
  }

  expand(scope: string): void {
    this.expanded.add(scope);
  }

  // Collapses a scope and every scope inside it.
  collapse(scope: string): void {
    for (const e of Array.from(this.expanded)) if (e === scope || e.startsWith(scope + "/")) this.expanded.delete(e);
  }

  // The edges between two nodes under `scope`.
  private edgesOf(scope: string): [number, number][] {
    let list = this.edgesUnder.get(scope);
    if (list) return list;
    const prefix = scope.split("/");
    const parts = this.scopeParts;
    const inside = (i: number) => !scope || (parts[i].length >= prefix.length && prefix.every((p, k) => parts[i][k] === p));
    list = this.data.edges.filter(([a, b]) => inside(a) && inside(b));
    this.edgesUnder.set(scope, list);
    return list;
  }

  // The unit a node belongs to directly inside `scope`: itself, or the child scope that holds it.
  private childOf(scope: string, i: number): string {
    const depth = scope ? scope.split("/").length : 0;
    if (this.scopeParts[i].length <= depth) return "n:" + i;
    const child = this.scopeParts[i].slice(0, depth + 1).join("/");
    return (this.expanded.has(child) ? "x:" : "s:") + child;
  }

  private unitFor(key: string, nodesOfUnit: number[]): Unit {
    if (key.startsWith("n:")) {
      const node = this.data.nodes[Number(key.slice(2))];
      return { key, label: node.name.split("/").pop() || node.op_type, sub: node.op_type, time: node.time_ns,
        placement: node.placement, supported: node.supported, relErr: node.max_rel_err, node };
    }
    const scope = key.slice(2);
    const unit: Unit = { key, label: scope.split("/").pop() || scope, sub: "", time: 0, placement: "", supported: true, relErr: null, scope };
    for (const i of nodesOfUnit) {
      const node = this.data.nodes[i];
      unit.time += node.time_ns;
      if (node.max_rel_err !== null) unit.relErr = Math.max(unit.relErr ?? 0, node.max_rel_err);
      unit.supported = unit.supported && node.supported;
      unit.placement = !unit.placement ? node.placement : unit.placement === node.placement ? unit.placement
        : node.placement === "fused" ? unit.placement : unit.placement === "fused" ? node.placement : "mixed";
    }
    unit.sub = `${this.scopeInfo.get(scope)?.nodes ?? nodesOfUnit.length} ops, ${duration(unit.time)}`;
    return unit;
  }

  // The layout of `scope` ("" is the whole graph) with the scopes expanded now.
  layoutOf(scope: string): Layout {
    const inner = Array.from(this.expanded).filter((e) => !scope || e.startsWith(scope + "/")).sort().join(",");
    const cacheKey = scope + "|" + inner;
    const cached = this.layouts.get(cacheKey);
    if (cached) return cached;
    const groups = new Map<string, number[]>();
    for (const i of this.members.get(scope) ?? []) {
      const key = this.childOf(scope, i);
      let list = groups.get(key);
      if (!list) groups.set(key, list = []);
      list.push(i);
    }
    const placed = new Map<string, Placed>();
    for (const [key, nodesOfUnit] of groups) {
      const unit = this.unitFor(key, nodesOfUnit);
      const sub = key.startsWith("x:") ? this.layoutOf(key.slice(2)) : undefined;
      const w = sub ? Math.max(sub.width, 7 * (unit.label.length + unit.sub.length) + 40) : Math.max(90, Math.min(220, 7 * Math.max(unit.label.length, unit.sub.length) + 16));
      const hgt = sub ? sub.height + HEADER : 36;
      placed.set(key, { unit, x: 0, y: 0, w, h: hgt, inner: sub });
    }
    const keys = Array.from(placed.keys());
    const position = new Map(keys.map((k, i) => [k, i]));
    const edges = new Set<string>();
    for (const [a, b] of this.edgesOf(scope)) {
      const ua = this.childOf(scope, a);
      const ub = this.childOf(scope, b);
      if (ua !== ub) edges.add(`${position.get(ua)}>${position.get(ub)}`);
    }
    // repeated blocks (the layers of a transformer) have the same shape: lay one out, reuse it
    const shape = keys.map((k) => `${k[0]}${Math.round(placed.get(k)!.w)}x${Math.round(placed.get(k)!.h)}`).join(",")
      + "|" + Array.from(edges).sort().join(",");
    let geometry = this.shapes.get(shape);
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
      this.shapes.set(shape, geometry);
    }
    keys.forEach((k, i) => {
      const p = placed.get(k)!;
      p.x = geometry!.boxes[i][0] - p.w / 2;
      p.y = geometry!.boxes[i][1] - p.h / 2;
    });
    const layout: Layout = { width: geometry.width, height: geometry.height, placed: Array.from(placed.values()),
      edges: geometry.edges, edgeBoxes: geometry.edges.map(boxOf) };
    this.layouts.set(cacheKey, layout);
    return layout;
  }
}

// The nodes (not scopes) of a layout, expanded scopes opened.
export function leavesOf(layout: Layout): Unit[] {
  const leaves: Unit[] = [];
  const collect = (l: Layout) => l.placed.forEach((p) => (p.inner ? collect(p.inner) : leaves.push(p.unit)));
  collect(layout);
  return leaves;
}
