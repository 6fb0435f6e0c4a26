// The timeline's data: the level-of-detail layers the backend computes, the visible window, and the fetch policy.
// A coarse whole-profile layer is fetched once (again when the marked node changes); a detail layer covering three
// viewport widths is fetched, debounced, when the view leaves it or zooms past its resolution. Each fetch aborts
// the one it replaces. No DOM here: the plot's width in pixels is asked of the view.
import { getJSON } from "../../api";
import { EventDetails, Occurrences, Timeline, TimelineTrack, TrackAggregates, TrackEvents } from "../../contract";
import { State } from "../../state";
import { profileParams } from "../types";

// A track's items as served (contract.ts), with what the view derives once per layer: each item's reach (its
// end, or the latest end before it on nested tracks) and the depth column packed into bytes.
export interface Items {
  events: Omit<TrackEvents, "depth"> & { reach?: Float64Array; depth?: number[] | Uint8Array };
  aggregates: TrackAggregates & { reach?: Float64Array };
}
export type Track = TimelineTrack;
export type Payload = Omit<Timeline, "data"> & { data: (Items & { track: number })[] };
export interface Layer { payload: Payload; byTrack: Map<number, Items>; node: string }
export type { Occurrences };
export type TimeSpan = [number, number];

export const MAX_LANES = 6;  // nested slices (imported traces) get a lane per depth, up to this many per track
const FETCH_DEBOUNCE_MS = 90;
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
export function firstVisible(reach: Float64Array, t: number): number {
  let lo = 0;
  let hi = reach.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (reach[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function layerOf(payload: Payload, forNode: string): Layer {
  for (const d of payload.data) {
    d.events.reach = reachOf(d.events.start, d.events.duration);
    if (d.events.depth) d.events.depth = Uint8Array.from(d.events.depth, (v) => Math.min(255, v));
    d.aggregates.reach = reachOf(d.aggregates.start, d.aggregates.duration);
  }
  return { payload, byTrack: new Map(payload.data.map((d) => [d.track, d])), node: forNode };
}

// The window around an occurrence of the marked node that shows it with some margin.
export function paddedWindow(o: { start_ns: number; end_ns: number }): TimeSpan {
  const pad = Math.max((o.end_ns - o.start_ns) * 0.3, 200);
  return [o.start_ns - pad, o.end_ns + pad];
}

export class TimelineModel {
  full: TimeSpan | null = null;      // the profile's time span
  view: TimeSpan | null;             // the visible window
  coarse: Layer | null = null;       // the whole profile at about one item per pixel
  detail: Layer | null = null;       // three viewport widths around the view, finer
  wanted: { start: number; end: number; pixel: number; node: string } | null = null;  // the detail fetch in flight
  occurrences: Occurrences | null = null;
  lanes = new Map<number, number>();  // per track: lanes for nesting depths, from the coarse layer
  private detailFetch = new AbortController();
  private base = new AbortController();   // the coarse layer and occurrences
  private fetchTimer = 0;
  private details = new Map<number, EventDetails>();

  // `state` is the view's URL state (run, profile, the marked node); `onDetail` is called when a detail layer
  // arrives, `onError` when its fetch fails.
  constructor(private state: State, private plotWidth: () => number, private onDetail: () => void,
    private onError: (error: unknown) => void) {
    this.view = state.start_ns && state.end_ns && Number(state.end_ns) > Number(state.start_ns)
      ? [Number(state.start_ns), Number(state.end_ns)] : null;
  }

  node(): string {
    return this.state.node ?? "";
  }

  // The tracks that have events, in the served order.
  rows(): Track[] {
    return this.coarse ? this.coarse.payload.tracks.filter((t) => t.events > 0) : [];
  }

  // The detail layer when it is for the same marked node as the coarse one.
  currentDetail(): Layer | null {
    return this.detail && this.coarse && this.detail.node === this.coarse.node ? this.detail : null;
  }

  // Moves the visible window to about [start, end], kept to at least MIN_SPAN_NS, at most 1.2 times the profile
  // and mostly over it. Returns false before the profile's span is known.
  setView(start: number, end: number): boolean {
    if (!this.full) return false;
    const full = this.full;
    let span = Math.max(end - start, MIN_SPAN_NS);
    span = Math.min(span, (full[1] - full[0]) * 1.2);
    let s = (start + end) / 2 - span / 2;
    s = Math.max(full[0] - span * 0.1, Math.min(s, full[1] - span * 0.9));
    this.view = [s, s + span];
    return true;
  }

  needsDetail(): boolean {
    const { view, full, coarse, detail } = this;
    if (!view || !full) return false;
    const pixel = (view[1] - view[0]) / this.plotWidth();
    const have = this.wanted ?? (detail ? { start: detail.payload.start_ns, end: detail.payload.end_ns, pixel: detail.payload.pixel_ns, node: detail.node } : null);
    if (view[0] <= full[0] && view[1] >= full[1] && coarse && coarse.node === this.node() && coarse.payload.pixel_ns <= pixel * 1.5) return false;
    if (!have || have.node !== this.node()) return true;
    return view[0] < have.start || view[1] > have.end || pixel < have.pixel / 2 || pixel > have.pixel * 4;
  }

  private fetchDetail(): void {
    const { view, full } = this;
    if (!view || !full || !this.needsDetail()) return;
    this.detailFetch.abort();
    this.detailFetch = new AbortController();
    const span = view[1] - view[0];
    const start = Math.max(full[0], Math.floor(view[0] - span));
    const end = Math.min(full[1], Math.ceil(view[1] + span));
    const width = Math.min(10000, Math.max(1, Math.round(this.plotWidth() * (end - start) / span)));
    const forNode = this.node();
    this.wanted = { start, end, pixel: (end - start) / width, node: forNode };
    const signal = this.detailFetch.signal;
    getJSON<Payload>("timeline", { ...profileParams(this.state), start_ns: start, end_ns: end, width, node: forNode || undefined }, signal)
      .then((payload) => {
        if (signal.aborted) return;
        this.detail = layerOf(payload, forNode);
        this.wanted = null;
        performance.mark("np-timeline-data");
        this.onDetail();
      }).catch((error) => {
        if (!signal.aborted) this.onError(error);
      });
  }

  // Fetches a detail layer after the view has rested, if the one at hand does not serve it.
  scheduleFetch(): void {
    window.clearTimeout(this.fetchTimer);
    if (this.needsDetail()) this.fetchTimer = window.setTimeout(() => this.fetchDetail(), FETCH_DEBOUNCE_MS);
  }

  private loadCoarse(): Promise<void> {
    const forNode = this.node();
    return getJSON<Payload>("timeline", { ...profileParams(this.state), width: this.plotWidth(), node: forNode || undefined }, this.base.signal)
      .then((payload) => {
        this.coarse = layerOf(payload, forNode);
        this.full = [payload.start_ns, payload.end_ns];
        this.lanes = new Map(payload.data.map((d) => [d.track,
          Math.min(MAX_LANES, 1 + (d.events.depth ? (d.events.depth as Uint8Array).reduce((m, v) => Math.max(m, v), 0) : 0))]));
      });
  }

  private loadOccurrences(): Promise<void> {
    if (!this.node()) {
      this.occurrences = null;
      return Promise.resolve();
    }
    return getJSON<Occurrences>("occurrences", { ...profileParams(this.state), node: this.node(), limit: 1000 }, this.base.signal)
      .then((found) => { this.occurrences = found; });
  }

  // The first load: the coarse layer and the marked node's occurrences.
  load(): Promise<void> {
    return Promise.all([this.loadCoarse(), this.loadOccurrences()]).then(() => undefined);
  }

  // After the marked node changed: drops the fetches in flight and loads the coarse layer and occurrences again.
  // Resolves to false when a later reload or dispose() superseded this one (its failure is then not an error).
  async reload(): Promise<boolean> {
    window.clearTimeout(this.fetchTimer);
    this.detailFetch.abort();
    this.base.abort();
    this.base = new AbortController();
    const signal = this.base.signal;
    this.wanted = null;
    try {
      await this.load();
      return true;
    } catch (error) {
      if (signal.aborted) return false;
      throw error;
    }
  }

  // An event's details (the `event` route), fetched once per event row.
  eventDetails(row: number): Promise<EventDetails> {
    const cached = this.details.get(row);
    if (cached) return Promise.resolve(cached);
    return getJSON<EventDetails>("event", { ...profileParams(this.state), event: row }).then((info) => {
      this.details.set(row, info);
      return info;
    });
  }

  dispose(): void {
    this.detailFetch.abort();
    this.base.abort();
    window.clearTimeout(this.fetchTimer);
  }
}
