// The graph's input and URL state: colour mode, Expand all / Collapse all, clicks on scopes and nodes (through
// the renderer's hooks), scrolling (which attaches what comes into view), and bringing a node picked elsewhere
// into view once. The expanded scopes and the colour mode go to the URL hash (expanded, color).
import { clear } from "../../dom";
import { State, writeState } from "../../state";
import { GraphModel, Layout, leavesOf } from "./model";
import { GraphRenderer, viewportOf } from "./render";

export interface GraphElements {
  canvas: HTMLElement;            // the scrolled box that holds the SVG
  modeSelect: HTMLSelectElement;
  expandAll: HTMLElement;
  collapseAll: HTMLElement;
}

export class GraphController {
  private current: Layout | null = null;
  private pickedShown = false;
  private scrollFrame = 0;

  // `drawn` is called after each draw (legend, details); listeners on window go when `signal` aborts.
  constructor(private elements: GraphElements, private model: GraphModel, private renderer: GraphRenderer,
    private state: State, private drawn: () => void, signal: AbortSignal) {
    const { canvas, modeSelect } = elements;
    renderer.mode = state.color ?? "time";
    modeSelect.value = renderer.mode;
    modeSelect.addEventListener("change", () => { renderer.mode = modeSelect.value; this.draw(); });
    elements.expandAll.addEventListener("click", () => { model.expandAll(); this.draw(); });
    elements.collapseAll.addEventListener("click", () => { model.collapseAll(); this.draw(); });
    canvas.addEventListener("scroll", () => this.schedulePlace(), { passive: true });
    window.addEventListener("resize", () => this.schedulePlace(), { signal });   // removed when the view goes
  }

  // The renderer's hooks: clicks on scopes and nodes.
  expand(scope: string): void {
    this.model.expand(scope);
    this.draw();
  }

  collapse(scope: string): void {
    this.model.collapse(scope);
    this.draw();
  }

  pick(node: number): void {
    this.state.node = String(node);
    this.draw();
  }

  private place(): void {
    if (!this.current) return;
    this.elements.canvas.dataset.shown = String(this.renderer.render(this.current, this.renderer.root, 0, 0, viewportOf(this.elements.canvas)));
  }

  private schedulePlace(): void {
    if (!this.scrollFrame) this.scrollFrame = requestAnimationFrame(() => { this.scrollFrame = 0; this.place(); });
  }

  draw(): void {
    const { canvas } = this.elements;
    const { model, renderer, state } = this;
    const started = performance.now();
    state.expanded = Array.from(model.expanded).join(",");
    state.color = renderer.mode;
    writeState(state);
    const layout = model.layoutOf("");
    performance.measure("np-graph-layout", { start: started, end: performance.now() });
    const leaves = leavesOf(layout);
    renderer.maxScaleTime = Math.max(1, ...leaves.map((u) => u.time));
    renderer.maxScaleError = Math.max(0, ...leaves.map((u) => u.relErr ?? 0));
    renderer.size(layout);
    if (renderer.root.parentNode !== canvas) {
      clear(canvas);
      canvas.append(renderer.root);
    }
    this.current = layout;
    const target = !this.pickedShown && state.node ? renderer.locatePicked(layout) : null;
    if (target) {  // bring a node picked elsewhere (Ops, Timeline) into view once
      this.pickedShown = true;
      canvas.scrollTo(target.x - canvas.clientWidth / 2, target.y - canvas.clientHeight / 2);
    }
    this.place();
    if (target) canvas.querySelector(".np-picked")?.scrollIntoView({ block: "center", inline: "center" });
    this.drawn();
    canvas.dataset.units = String(leaves.length);
    performance.measure("np-graph-draw", { start: started, end: performance.now() });
  }
}
