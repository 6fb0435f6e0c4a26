// Drawing the timeline model on a canvas, and finding what is under a point: functions of the model's layers,
// its visible window and the plot width, with no state of their own beyond a colour per name.
import { colorOf, count, duration } from "../../format";
import { firstVisible, Layer, TimelineModel, TimeSpan, Track } from "./model";

export const ROW = 18;
export const LABEL = 130;
export const RULER = 20;
export const HIGHLIGHT = "#ff3d00";

export interface Selected { track: number; row: number }
export interface Hit { track: number; kind: "event" | "aggregate"; index: number; layer: Layer }
export interface PlacedRow { track: Track; y: number; h: number }

function niceStep(raw: number): number {
  const power = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-9))));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

// The rows top to bottom under the ruler: one per track, a lane tall per nesting depth.
export function layoutRows(model: TimelineModel): PlacedRow[] {
  let y = RULER;
  return model.rows().map((track) => {
    const h = ROW * (model.lanes.get(track.id) ?? 1);
    const row = { track, y, h };
    y += h;
    return row;
  });
}

// What is at (x, py): x from the plot's left edge, py from the canvas top, in CSS pixels.
export function hitTest(model: TimelineModel, x: number, py: number, plotWidth: number): Hit | null {
  const { coarse, view } = model;
  if (!coarse || !view) return null;
  const found = layoutRows(model).find((r) => r.y <= py && py < r.y + r.h);
  if (!found || x < 0 || py < RULER) return null;
  const track = found.track;
  const lane = Math.floor((py - found.y) / ROW);
  const laneCount = Math.round(found.h / ROW);
  const t = view[0] + x * (view[1] - view[0]) / plotWidth;
  const slack = 2 * (view[1] - view[0]) / plotWidth;
  const detail = model.currentDetail();
  const layer = detail && t >= detail.payload.start_ns && t <= detail.payload.end_ns ? detail : coarse;
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
}

// The status line: how much of the profile is shown and how many items are loaded.
export function statusText(model: TimelineModel): string {
  const { view, full } = model;
  if (!view || !model.coarse) return "";
  const layer = model.currentDetail() ?? model.coarse;
  const shown = layer.payload.data.reduce((n, t) => n + t.events.start.length + t.aggregates.start.length, 0);
  return `${duration(view[1] - view[0])} shown of ${duration(full ? full[1] - full[0] : 0)}, ${count(shown)} items loaded`
    + (model.wanted ? ", loading detail..." : "");
}

export class TimelineRenderer {
  private colors = new Map<number, string>();

  private colorFor(strings: string[], id: number): string {
    let c = this.colors.get(id);
    if (c === undefined) {
      c = colorOf(strings[id] ?? "?");
      this.colors.set(id, c);
    }
    return c;
  }

  // Draws the whole timeline: the ruler, a row per track, and per row the coarse layer with the detail
  // layer over the span it covers. Does nothing before the coarse layer and the window are known.
  draw(canvas: HTMLCanvasElement, model: TimelineModel, plotWidth: number, selected: Selected | null): void {
    const { coarse, view, full } = model;
    if (!coarse || !view) return;
    const placed = layoutRows(model);
    const ratio = window.devicePixelRatio || 1;
    const width = LABEL + plotWidth;
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
    const scale = plotWidth / (v1 - v0);
    // ruler: ticks relative to the profile start
    const origin = full ? full[0] : v0;
    const step = niceStep((v1 - v0) / Math.max(1, plotWidth / 110));
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
    const d = model.currentDetail();
    placed.forEach(({ track, y, h }, row) => {
      g.fillStyle = row % 2 ? "rgba(240, 242, 246, 0.6)" : "rgba(255, 255, 255, 0)";
      g.fillRect(0, y, width, h);
      g.fillStyle = "#333";
      g.fillText(track.label, 4, y + 13, LABEL - 8);  // long imported track names are squeezed, not drawn over the plot
      const layer = (l: Layer, from: number, to: number) => this.drawLayer(g, l, view, plotWidth, from, to, y, h, track.id, selected);
      if (d) {
        layer(coarse, -Infinity, d.payload.start_ns);
        layer(d, d.payload.start_ns, d.payload.end_ns);
        layer(coarse, d.payload.end_ns, Infinity);
      } else {
        layer(coarse, -Infinity, Infinity);
      }
    });
  }

  // One track's items of one layer between clipFrom and clipTo (ns), in the row at y of height h.
  private drawLayer(g: CanvasRenderingContext2D, layer: Layer, view: TimeSpan, plotWidth: number, clipFrom: number,
    clipTo: number, y: number, h: number, track: number, selected: Selected | null): void {
    const laneCount = Math.round(h / ROW);
    const items = layer.byTrack.get(track);
    if (!items) return;
    const laneY = (i: number) => y + ROW * Math.min(laneCount - 1, items.events.depth ? items.events.depth[i] : 0);
    const [v0, v1] = view;
    const scale = plotWidth / (v1 - v0);
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
      g.fillStyle = this.colorFor(layer.payload.strings, name);
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
  }
}
