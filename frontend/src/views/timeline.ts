// Timeline: one row per engine / DMA queue / host, drawn on a canvas from level-of-detail data the backend
// computes for the visible window (zoom: wheel or W/S; pan: drag or A/D; click an event for details).
import { getJSON } from "../api";
import { errorBox } from "../app";
import { clear, h } from "../dom";
import { colorOf, duration } from "../format";
import { writeState } from "../state";
import { profileParams, View } from "./types";

interface Items {
  events: { start: number[]; duration: number[]; name: number[]; event: number[] };
  aggregates: { start: number[]; duration: number[]; count: number[]; busy_ns: number[]; busy: number[] };
}
interface Payload {
  start_ns: number;
  end_ns: number;
  strings: string[];
  tracks: { id: number; label: string; kind: string; events: number }[];
  data: (Items & { track: number })[];
}

const ROW = 18;
const LABEL = 130;

export const timelineView: View = {
  id: "timeline",
  title: "Timeline",
  mount(container, context) {
    const canvas = h("canvas", { id: "np-timeline-canvas", tabindex: 0 });
    const tooltip = h("div", { className: "np-tooltip", id: "np-timeline-tooltip" });
    const details = h("div", { className: "np-details", id: "np-timeline-details" });
    const status = h("div", { className: "np-note", id: "np-timeline-status" }, "Loading timeline...");
    const wrap = h("div", { className: "np-timeline" }, canvas, tooltip);
    container.append(h("div", { className: "np-toolbar" }, status,
      h("span", { className: "np-note" }, "wheel or W/S: zoom, drag or A/D: pan, click: details")), wrap, details);
    let data: Payload | null = null;
    let full: [number, number] | null = null;
    let view: [number, number] | null = context.state.start_ns && context.state.end_ns
      ? [Number(context.state.start_ns), Number(context.state.end_ns)] : null;
    let controller = new AbortController();
    let fetchTimer = 0;
    const rows = () => (data ? data.tracks.filter((t) => t.events > 0) : []);
    const plotWidth = () => Math.max(50, (wrap.clientWidth || 800) - LABEL);

    const fetchWindow = () => {
      controller.abort();
      controller = new AbortController();
      const params = { ...profileParams(context.state), width: plotWidth(), start_ns: view ? Math.floor(view[0]) : undefined,
        end_ns: view ? Math.ceil(view[1]) : undefined };
      getJSON<Payload>("timeline", params, controller.signal).then((payload) => {
        data = payload;
        if (!full) full = [payload.start_ns, payload.end_ns];
        if (!view) view = [payload.start_ns, payload.end_ns];
        else writeState({ ...context.state, start_ns: String(Math.floor(view[0])), end_ns: String(Math.ceil(view[1])) });
        const items = payload.data.reduce((n, t) => n + t.events.start.length + t.aggregates.start.length, 0);
        status.textContent = `${duration(view[1] - view[0])} shown, ${items} items drawn`;
        draw();
      }).catch((error) => {
        if (controller.signal.aborted) return;
        clear(container);
        container.append(errorBox(error));
      });
    };
    const schedule = () => {
      window.clearTimeout(fetchTimer);
      fetchTimer = window.setTimeout(fetchWindow, 80);
      draw();
    };

    const draw = () => {
      if (!data || !view) return;
      const tracks = rows();
      const ratio = window.devicePixelRatio || 1;
      const width = LABEL + plotWidth();
      const height = Math.max(ROW * tracks.length + 20, 60);
      canvas.width = width * ratio;
      canvas.height = height * ratio;
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
      const g = canvas.getContext("2d")!;
      g.setTransform(ratio, 0, 0, ratio, 0, 0);
      g.fillStyle = "#fff";
      g.fillRect(0, 0, width, height);
      const [v0, v1] = view;
      const scale = plotWidth() / (v1 - v0);
      const byTrack = new Map(data.data.map((d) => [d.track, d]));
      g.font = "11px sans-serif";
      tracks.forEach((track, row) => {
        const y = row * ROW;
        g.fillStyle = row % 2 ? "#f6f7f9" : "#fff";
        g.fillRect(0, y, width, ROW);
        g.fillStyle = "#333";
        g.fillText(track.label, 4, y + 13);
        const items = byTrack.get(track.id);
        if (!items) return;
        g.save();
        g.beginPath();
        g.rect(LABEL, y, width - LABEL, ROW);
        g.clip();
        const a = items.aggregates;
        for (let i = 0; i < a.start.length; i++) {
          const x = LABEL + (a.start[i] - v0) * scale;
          g.fillStyle = `rgba(60, 90, 160, ${0.25 + 0.75 * a.busy[i]})`;
          g.fillRect(x, y + 3, Math.max(1, a.duration[i] * scale), ROW - 6);
        }
        const e = items.events;
        for (let i = 0; i < e.start.length; i++) {
          const x = LABEL + (e.start[i] - v0) * scale;
          const w = Math.max(1, e.duration[i] * scale);
          const name = data!.strings[e.name[i]] ?? "?";
          g.fillStyle = colorOf(name);
          g.fillRect(x, y + 2, w, ROW - 4);
          if (w > 40) {
            g.fillStyle = "#111";
            g.save();
            g.beginPath();
            g.rect(x, y, w, ROW);
            g.clip();
            g.fillText(name, Math.max(x, LABEL) + 2, y + 13);
            g.restore();
          }
        }
        g.restore();
      });
      g.fillStyle = "#666";
      g.fillText(`${duration(v0 - (full ? full[0] : v0))}`, LABEL + 2, height - 4);
      g.fillText(`${duration(v1 - (full ? full[0] : v0))}`, width - 60, height - 4);
    };

    const hit = (event: MouseEvent): { track: number; kind: "event" | "aggregate"; index: number } | null => {
      if (!data || !view) return null;
      const rect = canvas.getBoundingClientRect();
      const x = event.clientX - rect.left - LABEL;
      const row = Math.floor((event.clientY - rect.top) / ROW);
      const track = rows()[row];
      if (!track || x < 0) return null;
      const items = data.data.find((d) => d.track === track.id);
      if (!items) return null;
      const t = view[0] + x / (plotWidth() / (view[1] - view[0]));
      const slack = (view[1] - view[0]) / plotWidth();
      const e = items.events;
      for (let i = 0; i < e.start.length; i++) {
        if (e.start[i] - slack <= t && t <= e.start[i] + e.duration[i] + slack) return { track: track.id, kind: "event", index: i };
      }
      const a = items.aggregates;
      for (let i = 0; i < a.start.length; i++) {
        if (a.start[i] - slack <= t && t <= a.start[i] + a.duration[i] + slack) return { track: track.id, kind: "aggregate", index: i };
      }
      return null;
    };

    const zoom = (factor: number, centerFraction = 0.5) => {
      if (!view || !full) return;
      const span = view[1] - view[0];
      const next = Math.max(span * factor, 50);
      const center = view[0] + span * centerFraction;
      let start = center - next * centerFraction;
      start = Math.max(full[0] - next * 0.05, Math.min(start, full[1]));
      view = [start, start + next];
      schedule();
    };
    const pan = (fraction: number) => {
      if (!view) return;
      const shift = (view[1] - view[0]) * fraction;
      view = [view[0] + shift, view[1] + shift];
      schedule();
    };

    canvas.addEventListener("wheel", (event) => {
      event.preventDefault();
      const rect = canvas.getBoundingClientRect();
      const fraction = Math.min(1, Math.max(0, (event.clientX - rect.left - LABEL) / plotWidth()));
      zoom(event.deltaY > 0 ? 1.25 : 0.8, fraction);
    }, { passive: false });
    let dragX: number | null = null;
    let dragged = false;
    canvas.addEventListener("mousedown", (event) => {
      dragX = event.clientX;
      dragged = false;
    });
    window.addEventListener("mouseup", () => { dragX = null; });
    canvas.addEventListener("mousemove", (event) => {
      if (dragX !== null && view) {
        const dx = event.clientX - dragX;
        if (Math.abs(dx) > 2) dragged = true;
        dragX = event.clientX;
        pan(-dx / plotWidth());
        return;
      }
      const found = hit(event);
      if (!found || !data) {
        tooltip.style.display = "none";
        return;
      }
      const items = data.data.find((d) => d.track === found.track)!;
      tooltip.textContent = found.kind === "event"
        ? `${data.strings[items.events.name[found.index]]}  ${duration(items.events.duration[found.index])}`
        : `${items.aggregates.count[found.index]} events, ${Math.round(items.aggregates.busy[found.index] * 100)}% busy`;
      tooltip.style.display = "block";
      tooltip.style.left = `${event.offsetX + 12}px`;
      tooltip.style.top = `${event.offsetY + 12}px`;
    });
    canvas.addEventListener("click", (event) => {
      if (dragged) return;
      const found = hit(event);
      if (!found || !data) return;
      const items = data.data.find((d) => d.track === found.track)!;
      if (found.kind === "aggregate") {
        const a = items.aggregates;
        view = [a.start[found.index], a.start[found.index] + Math.max(a.duration[found.index], 100)];
        schedule();
        return;
      }
      getJSON<Record<string, unknown>>("event", { ...profileParams(context.state), event: items.events.event[found.index] })
        .then((info) => {
          clear(details);
          const list = h("dl");
          for (const [key, value] of Object.entries(info)) {
            if (key === "depends_on" || key === "nodes") continue;
            list.append(h("dt", {}, key), h("dd", {}, typeof value === "number" && key.endsWith("_ns") ? duration(value) : String(value)));
          }
          details.append(h("h3", {}, String(info.name)), list);
        }).catch((error) => { clear(details); details.append(errorBox(error)); });
    });
    canvas.addEventListener("keydown", (event) => {
      const key = event.key.toLowerCase();
      if (key === "w") zoom(0.8);
      else if (key === "s") zoom(1.25);
      else if (key === "a") pan(-0.1);
      else if (key === "d") pan(0.1);
      else return;
      event.preventDefault();
    });
    const resize = () => schedule();
    window.addEventListener("resize", resize);
    fetchWindow();
    return () => {
      controller.abort();
      window.clearTimeout(fetchTimer);
      window.removeEventListener("resize", resize);
    };
  },
};
