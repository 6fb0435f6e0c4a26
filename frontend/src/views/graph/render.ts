// Drawing a graph layout as SVG. Only what is on screen, and a screen around it, is in the DOM: a 2,000-node
// graph expanded holds about 18,000 SVG elements, which the browser restyles and repaints on every change.
// Scrolling attaches the elements that come into view (made once per unit and kept; updated whenever attached).
import { Box, HEADER, Layout, Unit } from "./model";

const SVG = "http://www.w3.org/2000/svg";
export const PLACEMENT_COLORS: Record<string, string> = { neuron: "#5b8def", cpu: "#f57c00", fused: "#bdbdbd", mixed: "#9575cd" };
export const SUPPORTED = "#81c784";
export const UNSUPPORTED = "#e57373";
export const NOT_COMPARED = "#eeeeee";   // "numeric error" mode: no figures for the node (or no numerics check)

// The numeric error scale: light to dark purple, 0 to the largest relative error of the graph.
export function errorShade(fraction: number): string {
  const f = Math.max(0, Math.min(1, fraction));
  return `rgb(${Math.round(243 - 120 * f)}, ${Math.round(229 - 200 * f)}, ${Math.round(245 - 90 * f)})`;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

export function heat(fraction: number): string {
  const f = Math.max(0, Math.min(1, fraction));
  return `rgb(255, ${Math.round(245 - 190 * f)}, ${Math.round(235 - 220 * f)})`;
}

const meets = (v: Box, x: number, y: number, w: number, hgt: number) =>
  x < v.x + v.w && x + w > v.x && y < v.y + v.h && y + hgt > v.y;

// The region kept in the DOM for a scrolled box: three screens each way around what is visible.
export function viewportOf(scroller: HTMLElement): Box {
  const w = scroller.clientWidth || 1200;
  const hgt = scroller.clientHeight || 800;
  return { x: scroller.scrollLeft - w, y: scroller.scrollTop - hgt, w: 3 * w, h: 3 * hgt };
}

export interface RenderHooks {
  expand: (scope: string) => void;     // a collapsed scope was clicked
  collapse: (scope: string) => void;   // an expanded scope's title was clicked
  pick: (node: number) => void;        // a node was clicked
}

export class GraphRenderer {
  readonly root = svg("svg", {});
  mode = "time";          // colour by: time, placement, compatibility or numerics (numeric error)
  maxScaleTime = 1;       // the time of the top of the heat scale
  maxScaleError = 0;      // the relative error of the top of the numeric error scale
  private elements = new Map<string, SVGGElement>();

  constructor(private picked: () => string | undefined, private hooks: RenderHooks) {}

  colorOf(u: Unit): string {
    if (this.mode === "placement") return PLACEMENT_COLORS[u.placement] ?? "#ccc";
    if (this.mode === "compatibility") return u.supported ? SUPPORTED : UNSUPPORTED;
    if (this.mode === "numerics") return u.relErr === null ? NOT_COMPARED : errorShade(this.maxScaleError ? u.relErr / this.maxScaleError : 0);
    return heat(u.time / this.maxScaleTime);
  }

  private isPicked(unit: Unit): boolean {
    return unit.node !== undefined && String(unit.node.id) === this.picked();
  }

  // Sizes the root for a layout.
  size(layout: Layout): void {
    const height = Math.max(layout.height, 100);
    this.root.setAttribute("width", String(Math.ceil(layout.width)));
    this.root.setAttribute("height", String(Math.ceil(height)));
    this.root.setAttribute("viewBox", `0 0 ${layout.width} ${height}`);
  }

  private clusterElement(unit: Unit): SVGGElement {  // an expanded scope: its title collapses it
    const cluster = svg("g", { class: "np-graph-scope", "data-key": unit.key });
    const frame = svg("rect", { rx: 6, fill: "rgba(120, 130, 160, 0.06)", stroke: "#9e9e9e", "stroke-dasharray": "4 2" });
    const header = svg("text", { x: 6, y: 15, "font-size": 11, fill: "#555", class: "np-graph-scope-title" });
    header.textContent = `\u25BE ${unit.label}  (${unit.sub})`;
    const tip = svg("title");
    tip.textContent = `${unit.scope}: click to collapse`;
    header.append(tip);
    header.addEventListener("click", () => this.hooks.collapse(unit.scope!));
    cluster.append(frame, header, svg("g", { transform: `translate(0,${HEADER})` }));
    return cluster;
  }

  private nodeElement(unit: Unit): SVGGElement {
    const group = svg("g", { class: "np-graph-node", "data-key": unit.key, "data-rel-err": unit.relErr ?? "" });
    const rect = svg("rect", { rx: unit.scope ? 8 : 3, "stroke-dasharray": unit.scope ? "4 2" : "" });
    const title = svg("text", { x: 6, y: 15, "font-size": 11 });
    title.textContent = unit.label;
    const sub = svg("text", { x: 6, y: 29, "font-size": 10, fill: "#444" });
    sub.textContent = unit.sub;
    const tip = svg("title");
    tip.textContent = unit.scope ? `${unit.scope}: click to expand` : unit.node?.name ?? "";
    group.append(rect, title, sub, tip);
    group.addEventListener("click", () => {
      if (unit.scope) this.hooks.expand(unit.scope);
      else if (unit.node) this.hooks.pick(unit.node.id);
    });
    return group;
  }

  // Puts the part of `l` (drawn at ox, oy) that meets `view` into `parent`, and takes the rest out.
  // Returns the number of nodes shown.
  render(l: Layout, parent: SVGElement, ox: number, oy: number, view: Box): number {
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
      let el = this.elements.get(key);
      if (!el) {
        el = p.inner ? this.clusterElement(unit) : this.nodeElement(unit);
        this.elements.set(key, el);
      }
      el.setAttribute("transform", `translate(${p.x},${p.y})`);
      const rect = el.firstChild as SVGRectElement;
      rect.setAttribute("width", String(p.w));
      rect.setAttribute("height", String(p.h));
      if (p.inner) {
        shown += this.render(p.inner, el.lastChild as SVGGElement, ox + p.x, oy + p.y + HEADER, view);
      } else {
        const picked = this.isPicked(unit);
        rect.setAttribute("fill", this.colorOf(unit));
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
  }

  // The centre of the picked node in the whole layout, on screen or not.
  locatePicked(l: Layout, ox = 0, oy = 0): { x: number; y: number } | null {
    for (const p of l.placed) {
      if (p.inner) {
        const found = this.locatePicked(p.inner, ox + p.x, oy + p.y + HEADER);
        if (found) return found;
      } else if (this.isPicked(p.unit)) {
        return { x: ox + p.x + p.w / 2, y: oy + p.y + p.h / 2 };
      }
    }
    return null;
  }
}
