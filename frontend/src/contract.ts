// Generated from tensorboard_plugin_neuron/plugin/contract.py; do not edit. Regenerate with
//   python -m tensorboard_plugin_neuron.plugin.contract > frontend/src/contract.ts
// tests/test_contract.py checks every route's answer against the Python types and this file against them.

export type SummaryValue = number | string | unknown[] | Record<string, unknown>;

export interface ProfileEntry {
  profile: string;
  bytes: number;
  mtime_ns: number;
}

export interface RunEntry {
  run: string;
  profiles: ProfileEntry[];
}

export interface Runs {
  runs: RunEntry[];
}

export interface Progress {
  state: "loading" | "ready";
  fraction: number;
  stage: string;
  bytes: number;
}

export interface ErrorAnswer {
  error: string;
}

export interface Metadata {
  model: string;
  target: string;
  autocast: string;
  batch: number;
  cores: number;
  iterations: number;
  session: string;
  created_unix_ns: number;
  producer: string;
  source_format: string;
}

export interface OpRows {
  node: number[];
  name: string[];
  op_type: string[];
  scope: string[];
  placement: string[];
  engine: string[];
  fused_into: string[];
  time_ns: number[];
  percent: number[];
  engine_ns: number[];
  dma_ns: number[];
  host_ns: number[];
  instructions: number[];
  flops: number[];
  bytes: number[];
  intensity: number[];
  bound: string[];
  achieved_tflops: number[];
  max_rel_err: (number | null)[];
  cosine: (number | null)[];
}

export interface Ops {
  columns: string[];
  rows: OpRows;
}

export interface BusyTime {
  host_busy_ns: number;
  device_busy_ns: number;
}

export interface Traffic {
  hbm_read_bytes: number;
  hbm_write_bytes: number;
}

export interface Utilization {
  track: string;
  kind: string;
  core: number;
  busy_ns: number;
  events_ns: number;
  percent: number;
  count: number;
}

export interface Recommendation {
  kind: string;
  severity: "info" | "warning";
  message: string;
  percent?: number;
  nodes?: number[];
  reasons?: string[];
  tensor?: string;
  stage?: number;
  core?: number;
}

export interface CoreUsage {
  core: number;
  chip: number;
  engine_busy_ns: number;
  engine_percent: number;
  dma_busy_ns: number;
  dma_percent: number;
}

export interface Stage {
  stage: number;
  core: number;
  nodes: number;
  busy_per_request_ns: number;
  busy_percent: number;
  bubble_percent: number;
}

export interface RequestStream {
  requests: number;
  latency_p50_ns?: number;
  latency_p90_ns?: number;
  latency_p99_ns?: number;
  mean_in_flight?: number;
}

export interface Deployment {
  cores: CoreUsage[];
  stages: Stage[];
  stream: RequestStream;
  bottleneck_stage?: number | null;
}

export interface Overview {
  metadata: Metadata;
  summary: Record<string, SummaryValue>;
  span_ns: number;
  time: BusyTime;
  traffic: Traffic;
  utilization: Utilization[];
  top_ops: OpRows;
  recommendations: Recommendation[];
  deployment: Deployment;
  nodes: number;
  events: number;
  numerics: NumericsSummary | null;
}

export interface TensorInfo {
  name: string;
  dtype: string | null;
  shape: number[] | null;
}

export interface GraphNode {
  id: number;
  name: string;
  op_type: string;
  scope: string;
  core: number;
  engine: string;
  group: number;
  fused_into: string;
  placement: string;
  reason: string;
  supported: boolean;
  flops: number;
  instructions: number;
  time_ns: number;
  percent: number;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  max_rel_err: number | null;
  cosine: number | null;
}

export interface Scope {
  scope: string;
  depth: number;
  nodes: number;
  cpu_nodes: number;
  time_ns: number;
}

export interface Graph {
  nodes: GraphNode[];
  edges: [number, number][];
  scopes: Scope[];
  inputs: string[];
  outputs: string[];
}

export interface TimelineTrack {
  id: number;
  index: number;
  label: string;
  kind: string;
  core: number;
  events: number;
  nested: boolean;
}

export interface TrackEvents {
  start: number[];
  duration: number[];
  name: number[];
  event: number[];
  depth?: number[];
  marked?: number[];
}

export interface TrackAggregates {
  start: number[];
  duration: number[];
  count: number[];
  busy_ns: number[];
  busy: number[];
  marked?: number[];
}

export interface TrackData {
  track: number;
  events: TrackEvents;
  aggregates: TrackAggregates;
}

export interface Timeline {
  start_ns: number;
  end_ns: number;
  width: number;
  pixel_ns: number;
  strings: string[];
  tracks: TimelineTrack[];
  data: TrackData[];
}

export interface Dependency {
  task: number;
  name: string;
  track: string;
}

export interface EventDetails {
  event: number;
  task: number;
  iteration: number;
  start_ns: number;
  duration_ns: number;
  track: string;
  name: string;
  flops: number;
  bytes: number;
  group?: number;
  group_kind?: string;
  anchor?: string;
  anchor_node?: number;
  nodes?: number[];
  src?: string;
  dst?: string;
  purpose?: string;
  tensor?: string;
  depends_on: Dependency[];
}

export interface Occurrence {
  iteration: number;
  start_ns: number;
  end_ns: number;
  events: number;
}

export interface Occurrences {
  node: number;
  name: string;
  group: number | null;
  group_kind?: string;
  anchor?: number;
  nodes: number[];
  events: number;
  busy_ns: number;
  occurrences: Occurrence[];
}

export interface Link {
  link: string;
  bytes: number;
  transfers: number;
  active_ns: number;
  achieved_bytes_per_s: number;
  peak_bytes_per_s: number;
  directions: Record<string, number>;
}

export interface Bandwidth {
  link: string;
  time_ns: number[];
  gbps: number[];
}

export interface Transfer {
  event: number;
  bytes: number;
  duration_ns: number;
  src: string;
  dst: string;
  purpose: string;
  tensor: string;
}

export interface ReloadedTensor {
  tensor: string;
  loads: number;
  descriptors: number;
  bytes: number;
}

export interface Datapath {
  links: Link[];
  by_purpose: Record<string, number>;
  bandwidth: Bandwidth[];
  top_transfers: Transfer[];
  reloaded_tensors: ReloadedTensor[];
  iterations: number;
}

export interface MemorySeries {
  memory: string;
  core: number;
  time_ns: number[];
  bytes: number[];
  peak_bytes: number;
  capacity_bytes: number;
}

export interface HbmUse {
  weights_bytes: number;
  weight_reads_per_inference_bytes: number;
  spill_bytes_per_inference: number;
  capacity_bytes: number;
}

export interface Memory {
  series: MemorySeries[];
  hbm: HbmUse;
  span_start_ns: number;
  span_end_ns: number;
}

export interface CompareSide {
  model: string;
  target: string;
  autocast: string;
  batch: number;
  session: string;
}

export interface MetricDelta {
  metric: string;
  base: number | null;
  other: number | null;
  ratio: number | null;
}

export interface OpDelta {
  name: string;
  op_type: string;
  base_ns: number | null;
  other_ns: number | null;
  delta_ns: number | null;
}

export interface NumericsTotals {
  output_rel_err: number;
  output_cosine: number;
  max_rel_err: number;
  over_tolerance: number;
  bf16_nodes: number;
}

export interface NumericsDelta {
  name: string;
  op_type: string;
  base_rel_err: number | null;
  other_rel_err: number | null;
  delta: number | null;
}

export interface NumericsCompare {
  base: NumericsTotals | null;
  other: NumericsTotals | null;
  ops: NumericsDelta[];
}

export interface Compare {
  base: CompareSide;
  other: CompareSide;
  metrics: MetricDelta[];
  ops: OpDelta[];
  matched_ops: number;
  unmatched_ops: number;
  numerics: NumericsCompare | null;
}

export interface NumericsRow {
  node: number;
  name: string;
  op_type: string;
  bf16: boolean;
  max_abs_err: number;
  max_rel_err: number;
  cosine: number;
  input_rel_err: number;
  growth: number | null;
  added_rel_err: number;
}

export interface NumericsSummary {
  tolerance: number;
  compared: number;
  over_tolerance: number;
  non_finite: number;
  bf16_nodes: number;
  output_rel_err: number;
  output_cosine: number;
  max_rel_err: number;
  first_over: NumericsRow | null;
  worst: NumericsRow[];
  advice: NumericsRow[];
  advice_op_types: string[];
  exclude_option: string;
}

export interface NumericsNodes {
  node: number[];
  status: ("not_compared" | "compared" | "folded" | "non_finite")[];
  max_abs_err: (number | null)[];
  max_rel_err: (number | null)[];
  cosine: (number | null)[];
  input_rel_err: (number | null)[];
  growth: (number | null)[];
  added_rel_err: number[];
  over_tolerance: boolean[];
  bf16: boolean[];
}

export interface Numerics {
  available: boolean;
  summary: NumericsSummary | null;
  nodes: NumericsNodes | null;
}

export interface QueryAnswer {
  columns: string[];
  types: string[];
  rows: ((string | number | boolean | null)[])[];
  truncated: boolean;
  seconds: number;
}

export interface QueryTable {
  name: string;
  kind: "table" | "view";
  columns: string[];
  types: string[];
}

export interface QueryExample {
  title: string;
  sql: string;
}

export interface QuerySchema {
  tables: QueryTable[];
  examples: QueryExample[];
}

export interface Routes {
  runs: Runs;
  progress: Progress;
  overview: Overview;
  graph: Graph;
  ops: Ops;
  timeline: Timeline;
  event: EventDetails;
  occurrences: Occurrences;
  datapath: Datapath;
  memory: Memory;
  compare: Compare;
  query: QueryAnswer;
  query_schema: QuerySchema;
  numerics: Numerics;
}
