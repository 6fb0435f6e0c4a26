// Timeline: one row per engine / DMA queue / host, drawn on a canvas from level-of-detail data the backend
// computes for the visible window. Zoom: wheel, W/S, or drag a range; pan: Shift+drag, Shift+wheel or A/D;
// 0 resets. A coarse whole-profile layer is fetched once; a detail layer covering three viewport widths is
// fetched (debounced) when the view leaves it or zooms past its resolution, and drawing continues from the
// data at hand while it loads. Clicking an instruction shows its details and marks its fusion group, and
// links to its graph node; `node` in the URL hash (set by Ops and Graph) marks that node's group.
import { getJSON } from "../api";
import { errorBox } from "../show";
import { clear, h } from "../dom";
import { colorOf, count, duration } from "../format";
import { State, writeState } from "../state";
import { profileParams, View } from "./types";

interface Items {
  events: { start: number[]; duration: number[]; name: number[]; event: number[]; marked?: number[]; reach?: Float64Array;
    depth?: number[] | Uint8Array };  // depth: nesting level, served on tracks whose events overlap (imported traces)
  aggregates: { start: number[]; duration: number[]; count: number[]; busy_ns: number[]; busy: number[]; marked?: number[]; reach?: Float64Array };
}
interface Payload {
  start_ns: number;
  end_ns: number;
  pixel_ns: number;
  strings: string[];
  tracks: { id: number; label: string; kind: string; events: number }[];
  data: (Items & { track: number })[];
}
interface Layer { payload: Payload; byTrack: Map<number, Items>; node: string }
interface Occurrences {
  node: number; name: string; group: number | null; events: number; busy_ns: number; anchor?: number;
  nodes: number[]; occurrences: { iteration: number; start_ns: number; end_ns: number; events: number }[];
}
type Hit = { track: number; kind: "event" | "aggregate"; index: number; layer: Layer };

const ROW = 18;
const MAX_LANES = 6;  // nested slices (imported traces) get a lane per depth, up to this many per track
const LABEL = 130;
const RULER = 20;
const HIGHLIGHT = "#ff3d00";
const FETCH_DEBOUNCE_MS = 90;
const HASH_DEBOUNCE_MS = 120;
const MIN_SPAN_NS = 20;

// Per item, the latest end among it and the items before it: non-decreasing even when items nest
// (imported traces), so a binary search finds the first item that can reach a time.
function reachOf(start: number[], dur: number[]): Float64Array {
  const reach = new Float64Array(start.length);
  let max = -Infinity;
  for (let i = 0; i < start.length; i++) reach[i] = max = Math.max(max, start[i] + dur[i]);
  return reach;
}

// First index whose reach is >= t: no item before it ends at or after t.
function firstVisible(reach: Float64Array, t: number): number {
  let lo = 0;
  let hi = reach.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (reach[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function niceStep(raw: number): number {
  const power = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-9))));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

export function hashFor(state: State, changes: Partial<State>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...state, ...changes })) {
    if (value !== undefined && value !== "") params.set(key, value);
  }
  return "#" + params.toString();
}

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
    const reset = h("button", { className: "np-button", id: "np-timeline-reset", onclick: () => resetZoom() }, "Reset zoom");
    container.append(h("div", { className: "np-toolbar" }, reset, status,
      h("span", { className: "np-note" }, "W/S or wheel: zoom (at the pointer), A/D or Shift+drag: pan, drag: zoom to a range, 0: reset, click: details")),
    marking, wrap, details);

    let full: [number, number] | null = null;
    let view: [number, number] | null = state.start_ns && state.end_ns && Number(state.end_ns) > Number(state.start_ns)
      ? [Number(state.start_ns), Number(state.end_ns)] : null;
    let coarse: Layer | null = null;   // the whole profile at about one item per pixel
    let detail: Layer | null = null;   // three viewport widths around the view, finer
    let wanted: { start: number; end: number; pixel: number; node: string } | null = null;  // the detail fetch in flight
    let occurrences: Occurrences | null = null;
    let selected: { track: number; row: number } | null = null;
    let controller = new AbortController();      // the detail fetch
    let base = new AbortController();            // the coarse layer and occurrences
    let fetchTimer = 0;
    let hashTimer = 0;
    let frame = 0;
    let draws = 0;
    let disposed = false;
    const colors = new Map<number, string>();
    const detailCache = new Map<number, Record<string, unknown>>();
    const node = () => state.node ?? "";
    const plotWidth = () => Math.max(50, (wrap.clientWidth || 800) - LABEL);
    const layerOf = (payload: Payload, forNode: string): Layer => {
      for (const d of payload.data) {
        d.events.reach = reachOf(d.events.start, d.events.duration);
        if (d.events.depth) d.events.depth = Uint8Array.from(d.events.depth, (v) => Math.min(255, v));
        d.aggregates.reach = reachOf(d.aggregates.start, d.aggregates.duration);
      }
      return { payload, byTrack: new Map(payload.data.map((d) => [d.track, d])), node: forNode };
    };
    const rows = () => (coarse ? coarse.payload.tracks.filter((t) => t.events > 0) : []);
    let lanes = new Map<number, number>();  // per track: lanes for nesting depths, from the coarse layer
    const layoutRows = () => {
      let y = RULER;
      return rows().map((track) => {
        const h = ROW * (lanes.get(track.id) ?? 1);
        const row = { track, y, h };
        y += h;
        return row;
      });
    };

    const fail = (error: unknown) => {
      if (disposed) return;
      clear(container);
      container.append(errorBox(error));
    };

    // --- data ---
    const needsDetail = (): boolean => {
      if (!view || !full) return false;
      const pixel = (view[1] - view[0]) / plotWidth();
      const have = wanted ?? (detail ? { start: detail.payload.start_ns, end: detail.payload.end_ns, pixel: detail.payload.pixel_ns, node: detail.node } : null);
      if (view[0] <= full[0] && view[1] >= full[1] && coarse && coarse.node === node() && coarse.payload.pixel_ns <= pixel * 1.5) return false;
      if (!have || have.node !== node()) return true;
      return view[0] < have.start || view[1] > have.end || pixel < have.pixel / 2 || pixel > have.pixel * 4;
    };
    const fetchDetail = () => {
      if (!view || !full || !needsDetail()) return;
      controller.abort();
      controller = new AbortController();
      const span = view[1] - view[0];
      const start = Math.max(full[0], Math.floor(view[0] - span));
      const end = Math.min(full[1], Math.ceil(view[1] + span));
      const width = Math.min(10000, Math.max(1, Math.round(plotWidth() * (end - start) / span)));
      const forNode = node();
      wanted = { start, end, pixel: (end - start) / width, node: forNode };
      const signal = controller.signal;
      getJSON<Payload>("timeline", { ...profileParams(state), start_ns: start, end_ns: end, width, node: forNode || undefined }, signal)
        .then((payload) => {
          if (signal.aborted) return;
          detail = layerOf(payload, forNode);
          wanted = null;
          performance.mark("np-timeline-data");
          requestDraw();
        }).catch((error) => {
          if (!signal.aborted) fail(error);
        });
    };
    const scheduleFetch = () => {
      window.clearTimeout(fetchTimer);
      if (needsDetail()) fetchTimer = window.setTimeout(fetchDetail, FETCH_DEBOUNCE_MS);
    };
    const loadCoarse = (): Promise<void> => {
      const forNode = node();
      return getJSON<Payload>("timeline", { ...profileParams(state), width: plotWidth(), node: forNode || undefined }, base.signal)
        .then((payload) => {
          coarse = layerOf(payload, forNode);
          full = [payload.start_ns, payload.end_ns];
          lanes = new Map(payload.data.map((d) => [d.track,
            Math.min(MAX_LANES, 1 + (d.events.depth ? (d.events.depth as Uint8Array).reduce((m, v) => Math.max(m, v), 0) : 0))]));
        });
    };
    const loadOccurrences = (): Promise<void> => {
      if (!node()) {
        occurrences = null;
        return Promise.resolve();
      }
      return getJSON<Occurrences>("occurrences", { ...profileParams(state), node: node(), limit: 1000 }, base.signal)
        .then((found) => { occurrences = found; });
    };

    // --- view changes ---
    const setView = (start: number, end: number) => {
      if (!full) return;
      let span = Math.max(end - start, MIN_SPAN_NS);
      const fullSpan = full[1] - full[0];
      span = Math.min(span, fullSpan * 1.2);
      let s = (start + end) / 2 - span / 2;
      s = Math.max(full[0] - span * 0.1, Math.min(s, full[1] - span * 0.9));
      view = [s, s + span];
      state.start_ns = String(Math.floor(view[0]));
      state.end_ns = String(Math.ceil(view[1]));
      canvas.dataset.view = `${state.start_ns},${state.end_ns}`;
      // the hash follows once the view rests (browsers throttle rapid history.replaceState calls)
      window.clearTimeout(hashTimer);
      hashTimer = window.setTimeout(() => writeState(state), HASH_DEBOUNCE_MS);
      requestDraw();
      scheduleFetch();
    };
    const zoom = (factor: number, fraction = 0.5) => {
      if (!view) return;
      const span = view[1] - view[0];
      const at = view[0] + span * fraction;
      const next = span * factor;
      setView(at - next * fraction, at - next * fraction + next);
    };
    const pan = (fraction: number) => {
      if (!view) return;
      const shift = (view[1] - view[0]) * fraction;
      setView(view[0] + shift, view[1] + shift);
    };
    const resetZoom = () => {
      if (full) setView(full[0], full[1]);
    };
    const zoomToOccurrence = (i: number) => {
      const o = occurrences?.occurrences[i];
      if (!o) return;
      const pad = Math.max((o.end_ns - o.start_ns) * 0.3, 200);
      setView(o.start_ns - pad, o.end_ns + pad);
    };

    // --- drawing ---
    const requestDraw = () => {
      if (!frame) frame = requestAnimationFrame(() => { frame = 0; draw(); });
    };
    const colorFor = (payload: Payload, id: number): string => {
      let c = colors.get(id);
      if (c === undefined) {
        c = colorOf(payload.strings[id] ?? "?");
        colors.set(id, c);
      }
      return c;
    };
    const drawLayer = (g: CanvasRenderingContext2D, layer: Layer, clipFrom: number, clipTo: number, y: number, h: number,
      track: number) => {
      const laneCount = Math.round(h / ROW);
      const laneY = (i: number) => y + ROW * Math.min(laneCount - 1, items!.events.depth ? items!.events.depth[i] : 0);
      const items = layer.byTrack.get(track);
      if (!items || !view) return;
      const [v0, v1] = view;
      const scale = plotWidth() / (v1 - v0);
      const lo = Math.max(v0, clipFrom);
      const hi = Math.min(v1, clipTo);
      if (hi <= lo) return;
      const x0 = LABEL + (lo - v0) * scale;
      const x1 = LABEL + (hi - v0) * scale;
      g.save();
      g.beginPath();
      g.rect(x0, y, x1 - x0, h);
      g.clip();
      const marking = layer.node !== "";
      const a = items.aggregates;
      // merged events: one path per busy level (few fillStyle changes), marked ones on top
      const levels: Path2D[] = [new Path2D(), new Path2D(), new Path2D(), new Path2D(), new Path2D()];
      const marked = new Path2D();
      let anyMarked = false;
      for (let i = firstVisible(a.reach!, lo); i < a.start.length && a.start[i] <= hi; i++) {
        const x = LABEL + (a.start[i] - v0) * scale;
        const w = Math.max(1, a.duration[i] * scale);
        levels[Math.min(4, Math.floor(a.busy[i] * 5))].rect(x, y + 3, w, h - 6);
        if (a.marked && a.marked[i] > 0) {
          marked.rect(x, y + 1, w, h - 2);
          anyMarked = true;
        }
      }
      levels.forEach((path, level) => {
        g.fillStyle = `rgba(60, 90, 160, ${(marking ? 0.12 : 0.3) + (marking ? 0.3 : 0.7) * (level + 1) / 5})`;
        g.fill(path);
      });
      if (anyMarked) {
        g.fillStyle = HIGHLIGHT;
        g.fill(marked);
      }
      // events of at least one pixel: one path per name
      const e = items.events;
      const byName = new Map<number, Path2D>();
      const markedEvents = new Path2D();
      const labels: [number, number, number][] = [];
      for (let i = firstVisible(e.reach!, lo); i < e.start.length && e.start[i] <= hi; i++) {
        const x = LABEL + (e.start[i] - v0) * scale;
        const w = Math.max(1, e.duration[i] * scale);
        let path = byName.get(e.name[i]);
        if (!path) byName.set(e.name[i], path = new Path2D());
        const ey = laneY(i);
        path.rect(x, ey + 2, w > 4 ? w - 1 : w, ROW - 4);  // a 1 px gap keeps back-to-back instructions apart
        if (e.marked && e.marked[i]) markedEvents.rect(x - 0.5, ey + 0.5, w + 1, ROW - 1);
        if (w > 40) labels.push([i, x, w]);
      }
      g.globalAlpha = marking ? 0.35 : 1;
      for (const [name, path] of byName) {
        g.fillStyle = colorFor(layer.payload, name);
        g.fill(path);
      }
      g.globalAlpha = 1;
      if (marking) {
        g.strokeStyle = HIGHLIGHT;
        g.lineWidth = 2;
        g.stroke(markedEvents);
      }
      g.fillStyle = "#111";
      for (const [i, x, w] of labels) {
        const ey = laneY(i);
        g.save();
        g.beginPath();
        g.rect(x, ey, w, ROW);
        g.clip();
        g.fillText(layer.payload.strings[e.name[i]] ?? "?", Math.max(x, LABEL) + 2, ey + 13);
        g.restore();
      }
      if (selected && selected.track === track) {
        const k = e.event.indexOf(selected.row);
        if (k >= 0) {
          g.strokeStyle = "#000";
          g.lineWidth = 2;
          g.strokeRect(LABEL + (e.start[k] - v0) * scale - 1, laneY(k) + 1, Math.max(1, e.duration[k] * scale) + 2, ROW - 2);
        }
      }
      g.restore();
    };

    const draw = () => {
      if (!coarse || !view || disposed) return;
      const started = performance.now();
      const placed = layoutRows();
      const ratio = window.devicePixelRatio || 1;
      const width = LABEL + plotWidth();
      const height = Math.max(placed.length ? placed[placed.length - 1].y + placed[placed.length - 1].h : 0, RULER + 40);
      if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
        canvas.width = Math.round(width * ratio);
        canvas.height = Math.round(height * ratio);
        canvas.style.width = `${width}px`;
        canvas.style.height = `${height}px`;
      }
      const g = canvas.getContext("2d")!;
      g.setTransform(ratio, 0, 0, ratio, 0, 0);
      g.fillStyle = "#fff";
      g.fillRect(0, 0, width, height);
      g.font = "11px sans-serif";
      const [v0, v1] = view;
      const scale = plotWidth() / (v1 - v0);
      // ruler: ticks relative to the profile start
      const origin = full ? full[0] : v0;
      const step = niceStep((v1 - v0) / Math.max(1, plotWidth() / 110));
      g.fillStyle = "#666";
      g.strokeStyle = "#ddd";
      g.lineWidth = 1;
      g.beginPath();
      for (let t = Math.ceil((v0 - origin) / step) * step; t + origin <= v1; t += step) {
        const x = Math.round(LABEL + (t + origin - v0) * scale) + 0.5;
        g.moveTo(x, RULER - 5);
        g.lineTo(x, height);
        g.fillText(duration(t), x + 3, 12);
      }
      g.stroke();
      if (!placed.length) {
        g.fillStyle = "#666";
        g.fillText("This profile has no events.", LABEL + 8, RULER + 18);
      }
      const d = detail && detail.node === coarse.node ? detail : null;
      placed.forEach(({ track, y, h }, row) => {
        g.fillStyle = row % 2 ? "rgba(240, 242, 246, 0.6)" : "rgba(255, 255, 255, 0)";
        g.fillRect(0, y, width, h);
        g.fillStyle = "#333";
        g.fillText(track.label, 4, y + 13, LABEL - 8);  // long imported track names are squeezed, not drawn over the plot
        if (d) {
          drawLayer(g, coarse!, -Infinity, d.payload.start_ns, y, h, track.id);
          drawLayer(g, d, d.payload.start_ns, d.payload.end_ns, y, h, track.id);
          drawLayer(g, coarse!, d.payload.end_ns, Infinity, y, h, track.id);
        } else {
          drawLayer(g, coarse!, -Infinity, Infinity, y, h, track.id);
        }
      });
      draws++;
      canvas.dataset.draws = String(draws);
      performance.measure("np-timeline-draw", { start: started, end: performance.now() });
      const layer = d ?? coarse;
      const shown = layer.payload.data.reduce((n, t) => n + t.events.start.length + t.aggregates.start.length, 0);
      status.textContent = `${duration(v1 - v0)} shown of ${duration(full ? full[1] - full[0] : 0)}, ${count(shown)} items loaded`
        + (wanted ? ", loading detail..." : "");
      status.dataset.span = String(v1 - v0);
    };

    // --- hit testing and details ---
    const hit = (clientX: number, clientY: number): Hit | null => {
      if (!coarse || !view) return null;
      const rect = canvas.getBoundingClientRect();
      const x = clientX - rect.left - LABEL;
      const py = clientY - rect.top;
      const found = layoutRows().find((r) => r.y <= py && py < r.y + r.h);
      if (!found || x < 0 || py < RULER) return null;
      const track = found.track;
      const lane = Math.floor((py - found.y) / ROW);
      const laneCount = Math.round(found.h / ROW);
      const t = view[0] + x * (view[1] - view[0]) / plotWidth();
      const slack = 2 * (view[1] - view[0]) / plotWidth();
      const layer = detail && detail.node === coarse.node && t >= detail.payload.start_ns && t <= detail.payload.end_ns ? detail : coarse;
      const items = layer.byTrack.get(track.id);
      if (!items) return null;
      const e = items.events;
      for (let i = firstVisible(e.reach!, t - slack); i < e.start.length && e.start[i] <= t + slack; i++) {
        const depth = Math.min(laneCount - 1, e.depth ? e.depth[i] : 0);
        if (depth === lane && e.start[i] - slack <= t && t <= e.start[i] + e.duration[i] + slack) return { track: track.id, kind: "event", index: i, layer };
      }
      const a = items.aggregates;
      for (let i = firstVisible(a.reach!, t - slack); i < a.start.length && a.start[i] <= t + slack; i++) {
        if (a.start[i] - slack <= t && t <= a.start[i] + a.duration[i] + slack) return { track: track.id, kind: "aggregate", index: i, layer };
      }
      return null;
    };
    const eventDetails = (row: number): Promise<Record<string, unknown>> => {
      const cached = detailCache.get(row);
      if (cached) return Promise.resolve(cached);
      return getJSON<Record<string, unknown>>("event", { ...profileParams(state), event: row }).then((info) => {
        detailCache.set(row, info);
        return info;
      });
    };
    let hoverTimer = 0;
    const showTooltip = (found: Hit, x: number, y: number) => {
      const items = found.layer.byTrack.get(found.track)!;
      const strings = found.layer.payload.strings;
      if (found.kind === "event") {
        const e = items.events;
        tooltip.textContent = `${strings[e.name[found.index]]}  ${duration(e.duration[found.index])}`
          + ` at ${duration(e.start[found.index] - (full ? full[0] : 0))}`;
        const row = e.event[found.index];
        window.clearTimeout(hoverTimer);
        hoverTimer = window.setTimeout(() => {
          eventDetails(row).then((info) => {
            if (tooltip.style.display === "block" && tooltip.dataset.row === String(row) && info.anchor) {
              tooltip.textContent += `  (${String(info.anchor)})`;
            }
          }).catch(() => undefined);
        }, 150);
        tooltip.dataset.row = String(row);
      } else {
        const a = items.aggregates;
        const marked = a.marked && a.marked[found.index] ? `, ${a.marked[found.index]} of the marked node` : "";
        tooltip.textContent = `${count(a.count[found.index])} events merged, ${Math.round(a.busy[found.index] * 100)}% busy${marked} (click to zoom)`;
        tooltip.dataset.row = "";
      }
      tooltip.style.display = "block";
      tooltip.style.left = `${Math.min(x + 12, wrap.clientWidth - 260)}px`;
      tooltip.style.top = `${y + 14}px`;
    };
    const graphLink = (id: number, text: string) =>
      h("a", { href: hashFor(state, { view: "graph", node: String(id) }), className: "np-graph-link", "data-node": String(id) }, text);
    const showDetails = (row: number) => {
      eventDetails(row).then((info) => {
        clear(details);
        const list = h("dl");
        for (const [key, value] of Object.entries(info)) {
          if (key === "depends_on" || key === "nodes" || key === "anchor_node") continue;
          const shown = typeof value === "number" && key.endsWith("_ns") ? duration(value)
            : typeof value === "number" && (key === "flops" || key === "bytes") ? count(value) : String(value);
          list.append(h("dt", {}, key), h("dd", {}, shown));
        }
        const nodes = (info.nodes as number[] | undefined) ?? [];
        const header = h("div", { className: "np-toolbar" }, h("h3", {}, String(info.name)));
        if (typeof info.anchor_node === "number") {
          header.append(h("a", { href: hashFor(state, { view: "graph", node: String(info.anchor_node) }), className: "np-button",
            id: "np-timeline-show-graph" }, "Show in graph"));
        }
        details.append(header, list);
        if (nodes.length) {
          const links = h("p", { className: "np-node-links" }, "Graph nodes of this group: ");
          nodes.forEach((id, i) => links.append(i ? ", " : "", graphLink(id, String(id))));
          details.append(links);
        }
        const deps = (info.depends_on as { name: string; track: string }[] | undefined) ?? [];
        if (deps.length) {
          details.append(h("p", {}, `Waits for ${deps.length}${deps.length === 32 ? "+" : ""}: `
            + deps.map((d) => `${d.name} (${d.track})`).join(", ")));
        }
        if (typeof info.anchor_node === "number" && String(info.anchor_node) !== node()) {
          state.node = String(info.anchor_node);  // mark the selected instruction's group
          writeState(state);
          void refreshMarking();
        }
      }).catch((error) => {
        clear(details);
        details.append(errorBox(error));
      });
    };

    const renderMarking = () => {
      clear(marking);
      if (!node()) return;
      if (!occurrences) return;
      const o = occurrences;
      if (o.group === null) {
        marking.append(h("span", {}, `${o.name} has no events on the device (folded or not executed).`));
      } else {
        const which = h("select", { id: "np-timeline-occurrence", "aria-label": "occurrence" });
        o.occurrences.forEach((occ, i) => which.append(h("option", { value: String(i) }, `inference ${occ.iteration}`)));
        which.addEventListener("change", () => zoomToOccurrence(Number(which.value)));
        const swatch = h("span", { className: "np-swatch" });
        swatch.style.background = HIGHLIGHT;
        marking.append(swatch, h("span", {}, `Marked: ${o.name} (fusion group ${o.group}, ${count(o.events)} events, `
          + `${duration(o.busy_ns)} busy in ${o.occurrences.length} inference${o.occurrences.length === 1 ? "" : "s"}) `),
        h("button", { className: "np-button", id: "np-timeline-zoom-node", onclick: () => zoomToOccurrence(Number(which.value) || 0) }, "Zoom to"),
        which, graphLink(o.node, "Show in graph"));
      }
      marking.append(h("button", { className: "np-button", id: "np-timeline-unmark", onclick: () => {
        state.node = undefined;
        selected = null;
        writeState(state);
        void refreshMarking();
      } }, "Clear"));
    };
    const refreshMarking = async () => {
      window.clearTimeout(fetchTimer);
      controller.abort();
      base.abort();
      base = new AbortController();
      const signal = base.signal;
      wanted = null;
      try {
        await Promise.all([loadCoarse(), loadOccurrences()]);
        renderMarking();
        requestDraw();
        scheduleFetch();
      } catch (error) {
        if (!signal.aborted) fail(error);
      }
    };

    // --- input ---
    canvas.addEventListener("wheel", (event) => {
      event.preventDefault();
      const rect = canvas.getBoundingClientRect();
      if (event.shiftKey || Math.abs(event.deltaX) > Math.abs(event.deltaY)) {
        pan((event.shiftKey ? event.deltaY : event.deltaX) / plotWidth());
        return;
      }
      const fraction = Math.min(1, Math.max(0, (event.clientX - rect.left - LABEL) / plotWidth()));
      const steps = Math.max(-5, Math.min(5, event.deltaY / (event.deltaMode === 1 ? 3 : 100)));
      zoom(Math.pow(1.25, steps), fraction);
    }, { passive: false });
    let drag: { x: number; pan: boolean; moved: boolean } | null = null;
    let pointer: number | null = null;  // where the mouse is over the plot (0..1), for W/S
    canvas.addEventListener("mousedown", (event) => {
      if (event.button !== 0) return;
      drag = { x: event.clientX, pan: event.shiftKey, moved: false };
      event.preventDefault();
      canvas.focus();
    });
    const onMouseUp = (event: MouseEvent) => {
      if (!drag) return;
      const current = drag;
      drag = null;
      selection.style.display = "none";
      if (!current.moved) {
        click(event);
        return;
      }
      if (!current.pan && view) {
        const rect = canvas.getBoundingClientRect();
        const a = Math.max(0, Math.min(current.x, event.clientX) - rect.left - LABEL);
        const b = Math.max(0, Math.max(current.x, event.clientX) - rect.left - LABEL);
        const scale = (view[1] - view[0]) / plotWidth();
        if (b - a >= 3) setView(view[0] + a * scale, view[0] + b * scale);
      }
    };
    window.addEventListener("mouseup", onMouseUp);
    canvas.addEventListener("mousemove", (event) => {
      if (drag) {
        const dx = event.clientX - drag.x;
        if (Math.abs(dx) > 3) drag.moved = true;
        if (!drag.moved) return;
        tooltip.style.display = "none";
        if (drag.pan) {
          drag.x = event.clientX;
          pan(-dx / plotWidth());
        } else {
          const rect = canvas.getBoundingClientRect();
          const left = Math.max(LABEL, Math.min(drag.x, event.clientX) - rect.left);
          selection.style.display = "block";
          selection.style.left = `${left}px`;
          selection.style.width = `${Math.max(LABEL, Math.max(drag.x, event.clientX) - rect.left) - left}px`;
          selection.style.height = `${canvas.clientHeight}px`;
        }
        return;
      }
      const x = event.clientX - canvas.getBoundingClientRect().left - LABEL;
      pointer = x >= 0 ? Math.min(1, x / plotWidth()) : null;
      const found = hit(event.clientX, event.clientY);
      if (!found) {
        tooltip.style.display = "none";
        return;
      }
      showTooltip(found, event.offsetX, event.offsetY);
    });
    canvas.addEventListener("mouseleave", () => {
      tooltip.style.display = "none";
      pointer = null;
    });
    const click = (event: MouseEvent) => {
      const found = hit(event.clientX, event.clientY);
      if (!found) return;
      const items = found.layer.byTrack.get(found.track)!;
      if (found.kind === "aggregate") {
        const a = items.aggregates;
        setView(a.start[found.index], a.start[found.index] + Math.max(a.duration[found.index], 100));
        return;
      }
      selected = { track: found.track, row: items.events.event[found.index] };
      requestDraw();
      showDetails(selected.row);
    };
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (target && /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) return;
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const key = event.key.toLowerCase();
      if (key === "w") zoom(0.8, pointer ?? 0.5);
      else if (key === "s") zoom(1.25, pointer ?? 0.5);
      else if (key === "a") pan(-0.15);
      else if (key === "d") pan(0.15);
      else if (key === "0") resetZoom();
      else return;
      event.preventDefault();
    };
    document.addEventListener("keydown", onKey);
    const onResize = () => {
      requestDraw();
      scheduleFetch();
    };
    window.addEventListener("resize", onResize);

    // --- start: the coarse layer and the marked node's occurrences, then the view ---
    const started = performance.now();
    Promise.all([loadCoarse(), loadOccurrences()]).then(() => {
      if (disposed || !full) return;
      if (!view) {
        if (occurrences && occurrences.occurrences.length) {
          const o = occurrences.occurrences[0];
          const pad = Math.max((o.end_ns - o.start_ns) * 0.3, 200);
          view = [o.start_ns - pad, o.end_ns + pad];
          state.start_ns = String(Math.floor(view[0]));
          state.end_ns = String(Math.ceil(view[1]));
          writeState(state);
        } else {
          view = [full[0], full[1]];
        }
      }
      renderMarking();
      draw();
      performance.measure("np-timeline-first-draw", { start: started, end: performance.now() });
      canvas.dataset.view = `${Math.floor(view[0])},${Math.ceil(view[1])}`;
      canvas.dataset.ready = "1";
      scheduleFetch();
    }).catch(fail);

    return () => {
      disposed = true;
      controller.abort();
      base.abort();
      window.clearTimeout(fetchTimer);
      window.clearTimeout(hoverTimer);
      window.clearTimeout(hashTimer);  // the App writes the next view's hash from the same state object
      if (frame) cancelAnimationFrame(frame);
      window.removeEventListener("resize", onResize);
      window.removeEventListener("mouseup", onMouseUp);
      document.removeEventListener("keydown", onKey);
    };
  },
};
