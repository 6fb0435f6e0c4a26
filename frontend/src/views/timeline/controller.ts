// The timeline's input and URL state. Zoom: wheel, W/S, or drag a range; pan: Shift+drag, Shift+wheel or A/D;
// 0 resets; click: details of an event, or zoom to a merged item. The visible window goes to the URL hash
// (start_ns, end_ns) once it rests.
import { State, writeState } from "../../state";
import { paddedWindow, TimelineModel } from "./model";
import { Hit, hitTest, LABEL, Selected } from "./render";

const HASH_DEBOUNCE_MS = 120;

export interface ControllerHooks {
  draw: () => void;                                      // redraw on the next frame
  hover: (found: Hit | null, x: number, y: number) => void;   // what is under the pointer (null: nothing)
  select: (row: number) => void;                         // an event was clicked
}

export class TimelineController {
  selected: Selected | null = null;
  private pointer: number | null = null;  // where the mouse is over the plot (0..1), for W/S
  private drag: { x: number; pan: boolean; moved: boolean } | null = null;
  private hashTimer = 0;
  private listeners = new AbortController();

  constructor(private canvas: HTMLCanvasElement, private selection: HTMLElement, private model: TimelineModel,
    private state: State, private plotWidth: () => number, private hooks: ControllerHooks) {
    const options = { signal: this.listeners.signal };
    canvas.addEventListener("wheel", (event) => this.onWheel(event), { ...options, passive: false });
    canvas.addEventListener("mousedown", (event) => this.onMouseDown(event), options);
    window.addEventListener("mouseup", (event) => this.onMouseUp(event), options);
    canvas.addEventListener("mousemove", (event) => this.onMouseMove(event), options);
    canvas.addEventListener("mouseleave", () => {
      this.hooks.hover(null, 0, 0);
      this.pointer = null;
    }, options);
    document.addEventListener("keydown", (event) => this.onKey(event), options);
    window.addEventListener("resize", () => {
      this.hooks.draw();
      this.model.scheduleFetch();
    }, options);
  }

  // The first window once the profile's span is known: the URL's, else the marked node's first occurrence
  // (written to the URL at once), else the whole profile.
  start(): void {
    const { model, state } = this;
    if (!model.full) return;
    if (!model.view) {
      const first = model.occurrences?.occurrences[0];
      if (first) {
        model.view = paddedWindow(first);
        state.start_ns = String(Math.floor(model.view[0]));
        state.end_ns = String(Math.ceil(model.view[1]));
        writeState(state);
      } else {
        model.view = [model.full[0], model.full[1]];
      }
    }
    this.canvas.dataset.view = `${Math.floor(model.view[0])},${Math.ceil(model.view[1])}`;
  }

  setView(start: number, end: number): void {
    const { model, state } = this;
    if (!model.setView(start, end)) return;
    const view = model.view!;
    state.start_ns = String(Math.floor(view[0]));
    state.end_ns = String(Math.ceil(view[1]));
    this.canvas.dataset.view = `${state.start_ns},${state.end_ns}`;
    // the hash follows once the view rests (browsers throttle rapid history.replaceState calls)
    window.clearTimeout(this.hashTimer);
    this.hashTimer = window.setTimeout(() => writeState(state), HASH_DEBOUNCE_MS);
    this.hooks.draw();
    model.scheduleFetch();
  }

  zoom(factor: number, fraction = 0.5): void {
    const view = this.model.view;
    if (!view) return;
    const span = view[1] - view[0];
    const at = view[0] + span * fraction;
    const next = span * factor;
    this.setView(at - next * fraction, at - next * fraction + next);
  }

  pan(fraction: number): void {
    const view = this.model.view;
    if (!view) return;
    const shift = (view[1] - view[0]) * fraction;
    this.setView(view[0] + shift, view[1] + shift);
  }

  resetZoom(): void {
    const full = this.model.full;
    if (full) this.setView(full[0], full[1]);
  }

  zoomToOccurrence(i: number): void {
    const o = this.model.occurrences?.occurrences[i];
    if (!o) return;
    const [start, end] = paddedWindow(o);
    this.setView(start, end);
  }

  private hit(clientX: number, clientY: number): Hit | null {
    const rect = this.canvas.getBoundingClientRect();
    return hitTest(this.model, clientX - rect.left - LABEL, clientY - rect.top, this.plotWidth());
  }

  private onWheel(event: WheelEvent): void {
    event.preventDefault();
    const rect = this.canvas.getBoundingClientRect();
    if (event.shiftKey || Math.abs(event.deltaX) > Math.abs(event.deltaY)) {
      this.pan((event.shiftKey ? event.deltaY : event.deltaX) / this.plotWidth());
      return;
    }
    const fraction = Math.min(1, Math.max(0, (event.clientX - rect.left - LABEL) / this.plotWidth()));
    const steps = Math.max(-5, Math.min(5, event.deltaY / (event.deltaMode === 1 ? 3 : 100)));
    this.zoom(Math.pow(1.25, steps), fraction);
  }

  private onMouseDown(event: MouseEvent): void {
    if (event.button !== 0) return;
    this.drag = { x: event.clientX, pan: event.shiftKey, moved: false };
    event.preventDefault();
    this.canvas.focus();
  }

  private onMouseUp(event: MouseEvent): void {
    if (!this.drag) return;
    const current = this.drag;
    this.drag = null;
    this.selection.style.display = "none";
    if (!current.moved) {
      this.click(event);
      return;
    }
    const view = this.model.view;
    if (!current.pan && view) {
      const rect = this.canvas.getBoundingClientRect();
      const a = Math.max(0, Math.min(current.x, event.clientX) - rect.left - LABEL);
      const b = Math.max(0, Math.max(current.x, event.clientX) - rect.left - LABEL);
      const scale = (view[1] - view[0]) / this.plotWidth();
      if (b - a >= 3) this.setView(view[0] + a * scale, view[0] + b * scale);
    }
  }

  private onMouseMove(event: MouseEvent): void {
    const drag = this.drag;
    if (drag) {
      const dx = event.clientX - drag.x;
      if (Math.abs(dx) > 3) drag.moved = true;
      if (!drag.moved) return;
      this.hooks.hover(null, 0, 0);
      if (drag.pan) {
        drag.x = event.clientX;
        this.pan(-dx / this.plotWidth());
      } else {
        const rect = this.canvas.getBoundingClientRect();
        const selection = this.selection;
        const left = Math.max(LABEL, Math.min(drag.x, event.clientX) - rect.left);
        selection.style.display = "block";
        selection.style.left = `${left}px`;
        selection.style.width = `${Math.max(LABEL, Math.max(drag.x, event.clientX) - rect.left) - left}px`;
        selection.style.height = `${this.canvas.clientHeight}px`;
      }
      return;
    }
    const x = event.clientX - this.canvas.getBoundingClientRect().left - LABEL;
    this.pointer = x >= 0 ? Math.min(1, x / this.plotWidth()) : null;
    this.hooks.hover(this.hit(event.clientX, event.clientY), event.offsetX, event.offsetY);
  }

  private click(event: MouseEvent): void {
    const found = this.hit(event.clientX, event.clientY);
    if (!found) return;
    const items = found.layer.byTrack.get(found.track)!;
    if (found.kind === "aggregate") {
      const a = items.aggregates;
      this.setView(a.start[found.index], a.start[found.index] + Math.max(a.duration[found.index], 100));
      return;
    }
    this.selected = { track: found.track, row: items.events.event[found.index] };
    this.hooks.draw();
    this.hooks.select(this.selected.row);
  }

  private onKey(event: KeyboardEvent): void {
    const target = event.target as HTMLElement | null;
    if (target && /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.toLowerCase();
    if (key === "w") this.zoom(0.8, this.pointer ?? 0.5);
    else if (key === "s") this.zoom(1.25, this.pointer ?? 0.5);
    else if (key === "a") this.pan(-0.15);
    else if (key === "d") this.pan(0.15);
    else if (key === "0") this.resetZoom();
    else return;
    event.preventDefault();
  }

  // Removes the listeners and the pending hash write (the App writes the next view's hash from the same state).
  dispose(): void {
    this.listeners.abort();
    window.clearTimeout(this.hashTimer);
  }
}
