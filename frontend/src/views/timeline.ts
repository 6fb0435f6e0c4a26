// Timeline: one row per engine / DMA queue / host, drawn on a canvas from level-of-detail data the backend
// computes for the visible window. Clicking an instruction shows its details and marks its fusion group, and
// links to its graph node; `node` in the URL hash (set by Ops and Graph) marks that node's group.
// This file wires the parts: timeline/model.ts (layers, fetch policy), timeline/render.ts (drawing and
// hit-testing), timeline/controller.ts (input, URL state) and timeline/panels.ts (tooltip, details, marking).
import { h } from "../dom";
import { showError } from "../show";
import { writeState } from "../state";
import { TimelineController } from "./timeline/controller";
import { TimelineModel } from "./timeline/model";
import { TimelinePanels } from "./timeline/panels";
import { LABEL, statusText, TimelineRenderer } from "./timeline/render";
import { View } from "./types";

export const timelineView: View = {
  id: "timeline",
  title: "Timeline",
  mount(container, context) {
    const state = context.state;
    const canvas = h("canvas", { id: "np-timeline-canvas", tabindex: 0, "aria-label": "timeline" });
    const tooltip = h("div", { className: "np-tooltip", id: "np-timeline-tooltip" });
    const selection = h("div", { className: "np-selection", id: "np-timeline-selection" });
    const details = h("div", { className: "np-details", id: "np-timeline-details" });
    const status = h("span", { className: "np-note", id: "np-timeline-status" }, "Loading timeline...");
    const marking = h("div", { className: "np-marking", id: "np-timeline-marking" });
    const wrap = h("div", { className: "np-timeline" }, canvas, selection, tooltip);
    const reset = h("button", { className: "np-button", id: "np-timeline-reset", onclick: () => controller.resetZoom() }, "Reset zoom");
    container.append(h("div", { className: "np-toolbar" }, reset, status,
      h("span", { className: "np-note" }, "W/S or wheel: zoom (at the pointer), A/D or Shift+drag: pan, drag: zoom to a range, 0: reset, click: details")),
    marking, wrap, details);

    let frame = 0;
    let draws = 0;
    let disposed = false;
    const plotWidth = () => Math.max(50, (wrap.clientWidth || 800) - LABEL);
    const fail = (error: unknown) => {
      if (!disposed) showError(container, error);
    };
    const renderer = new TimelineRenderer();
    const draw = () => {
      if (!model.coarse || !model.view || disposed) return;
      const started = performance.now();
      renderer.draw(canvas, model, plotWidth(), controller.selected);
      draws++;
      canvas.dataset.draws = String(draws);
      performance.measure("np-timeline-draw", { start: started, end: performance.now() });
      status.textContent = statusText(model);
      status.dataset.span = String(model.view[1] - model.view[0]);
    };
    const requestDraw = () => {
      if (!frame) frame = requestAnimationFrame(() => { frame = 0; draw(); });
    };
    const model = new TimelineModel(state, plotWidth, requestDraw, fail);
    const panels = new TimelinePanels(tooltip, details, marking, wrap, model, state, {
      zoomToOccurrence: (i) => controller.zoomToOccurrence(i),
      mark: (node) => {
        state.node = node;
        if (node === undefined) controller.selected = null;
        writeState(state);
        void refreshMarking();
      },
    });
    const controller = new TimelineController(canvas, selection, model, state, plotWidth, {
      draw: requestDraw,
      hover: (found, x, y) => (found ? panels.showTooltip(found, x, y) : panels.hideTooltip()),
      select: (row) => panels.showDetails(row),
    });
    const refreshMarking = async () => {
      try {
        if (!await model.reload()) return;
        panels.renderMarking();
        requestDraw();
        model.scheduleFetch();
      } catch (error) {
        fail(error);
      }
    };

    // start: the coarse layer and the marked node's occurrences, then the view
    const started = performance.now();
    model.load().then(() => {
      if (disposed || !model.full) return;
      controller.start();
      panels.renderMarking();
      draw();
      performance.measure("np-timeline-first-draw", { start: started, end: performance.now() });
      canvas.dataset.ready = "1";
      model.scheduleFetch();
    }).catch(fail);

    return () => {
      disposed = true;
      model.dispose();
      panels.dispose();
      controller.dispose();
      if (frame) cancelAnimationFrame(frame);
    };
  },
};
