// The timeline's DOM around the canvas: the hover tooltip, the details of a clicked event, and the bar that
// names the marked node (its fusion group, occurrences, Zoom to, Show in graph, Clear).
import { clear, h } from "../../dom";
import { count, duration } from "../../format";
import { showError } from "../../show";
import { State } from "../../state";
import { TimelineModel } from "./model";
import { Hit, HIGHLIGHT } from "./render";

const HOVER_DETAILS_MS = 150;

export function hashFor(state: State, changes: Partial<State>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...state, ...changes })) {
    if (value !== undefined && value !== "") params.set(key, value);
  }
  return "#" + params.toString();
}

export interface PanelActions {
  zoomToOccurrence: (i: number) => void;
  mark: (node: string | undefined) => void;   // marks a node's group (undefined: clears the marking)
}

export class TimelinePanels {
  private hoverTimer = 0;

  constructor(private tooltip: HTMLElement, private details: HTMLElement, private marking: HTMLElement,
    private wrap: HTMLElement, private model: TimelineModel, private state: State, private actions: PanelActions) {}

  hideTooltip(): void {
    this.tooltip.style.display = "none";
  }

  // The tooltip for what is under the pointer at (x, y) in the canvas; an event's anchor op follows shortly.
  showTooltip(found: Hit, x: number, y: number): void {
    const tooltip = this.tooltip;
    const items = found.layer.byTrack.get(found.track)!;
    const strings = found.layer.payload.strings;
    if (found.kind === "event") {
      const e = items.events;
      const full = this.model.full;
      tooltip.textContent = `${strings[e.name[found.index]]}  ${duration(e.duration[found.index])}`
        + ` at ${duration(e.start[found.index] - (full ? full[0] : 0))}`;
      const row = e.event[found.index];
      window.clearTimeout(this.hoverTimer);
      this.hoverTimer = window.setTimeout(() => {
        this.model.eventDetails(row).then((info) => {
          if (tooltip.style.display === "block" && tooltip.dataset.row === String(row) && info.anchor) {
            tooltip.textContent += `  (${String(info.anchor)})`;
          }
        }).catch(() => undefined);
      }, HOVER_DETAILS_MS);
      tooltip.dataset.row = String(row);
    } else {
      const a = items.aggregates;
      const marked = a.marked && a.marked[found.index] ? `, ${a.marked[found.index]} of the marked node` : "";
      tooltip.textContent = `${count(a.count[found.index])} events merged, ${Math.round(a.busy[found.index] * 100)}% busy${marked} (click to zoom)`;
      tooltip.dataset.row = "";
    }
    tooltip.style.display = "block";
    tooltip.style.left = `${Math.min(x + 12, this.wrap.clientWidth - 260)}px`;
    tooltip.style.top = `${y + 14}px`;
  }

  private graphLink(id: number, text: string): HTMLElement {
    return h("a", { href: hashFor(this.state, { view: "graph", node: String(id) }), className: "np-graph-link", "data-node": String(id) }, text);
  }

  // An event's details; selecting an instruction marks its group.
  showDetails(row: number): void {
    const details = this.details;
    this.model.eventDetails(row).then((info) => {
      clear(details);
      const list = h("dl");
      for (const [key, value] of Object.entries(info)) {
        if (key === "depends_on" || key === "nodes" || key === "anchor_node") continue;
        const shown = typeof value === "number" && key.endsWith("_ns") ? duration(value)
          : typeof value === "number" && (key === "flops" || key === "bytes") ? count(value) : String(value);
        list.append(h("dt", {}, key), h("dd", {}, shown));
      }
      const nodes = info.nodes ?? [];
      const header = h("div", { className: "np-toolbar" }, h("h3", {}, String(info.name)));
      if (typeof info.anchor_node === "number") {
        header.append(h("a", { href: hashFor(this.state, { view: "graph", node: String(info.anchor_node) }), className: "np-button",
          id: "np-timeline-show-graph" }, "Show in graph"));
      }
      details.append(header, list);
      if (nodes.length) {
        const links = h("p", { className: "np-node-links" }, "Graph nodes of this group: ");
        nodes.forEach((id, i) => links.append(i ? ", " : "", this.graphLink(id, String(id))));
        details.append(links);
      }
      const deps = info.depends_on;
      if (deps.length) {
        details.append(h("p", {}, `Waits for ${deps.length}${deps.length === 32 ? "+" : ""}: `
          + deps.map((d) => `${d.name} (${d.track})`).join(", ")));
      }
      if (typeof info.anchor_node === "number" && String(info.anchor_node) !== this.model.node()) {
        this.actions.mark(String(info.anchor_node));  // mark the selected instruction's group
      }
    }).catch((error) => showError(details, error));
  }

  // The marked node's bar, from the model's occurrences.
  renderMarking(): void {
    const marking = this.marking;
    clear(marking);
    if (!this.model.node()) return;
    const o = this.model.occurrences;
    if (!o) return;
    if (o.group === null) {
      marking.append(h("span", {}, `${o.name} has no events on the device (folded or not executed).`));
    } else {
      const which = h("select", { id: "np-timeline-occurrence", "aria-label": "occurrence" });
      o.occurrences.forEach((occ, i) => which.append(h("option", { value: String(i) }, `inference ${occ.iteration}`)));
      which.addEventListener("change", () => this.actions.zoomToOccurrence(Number(which.value)));
      const swatch = h("span", { className: "np-swatch" });
      swatch.style.background = HIGHLIGHT;
      marking.append(swatch, h("span", {}, `Marked: ${o.name} (fusion group ${o.group}, ${count(o.events)} events, `
        + `${duration(o.busy_ns)} busy in ${o.occurrences.length} inference${o.occurrences.length === 1 ? "" : "s"}) `),
      h("button", { className: "np-button", id: "np-timeline-zoom-node", onclick: () => this.actions.zoomToOccurrence(Number(which.value) || 0) }, "Zoom to"),
      which, this.graphLink(o.node, "Show in graph"));
    }
    marking.append(h("button", { className: "np-button", id: "np-timeline-unmark", onclick: () => this.actions.mark(undefined) }, "Clear"));
  }

  dispose(): void {
    window.clearTimeout(this.hoverTimer);
  }
}
