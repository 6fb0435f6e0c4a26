// Ops: the per-node statistics table, sorted and filtered by the backend, with a CSV download.
import { getJSON, url } from "../api";
import { OpRows, Ops } from "../contract";
import { clear, h } from "../dom";
import { bytes, cosine, count, duration, percent, relError } from "../format";
import { fetchInto } from "../show";
import { profileParams, View } from "./types";

type Cell = string | number | null;
const COLUMNS: [keyof OpRows, string, (v: Cell) => string][] = [
  ["name", "op", String], ["op_type", "type", String], ["placement", "placement", String], ["engine", "engine", String],
  ["time_ns", "time", (v) => duration(Number(v))], ["percent", "%", (v) => percent(Number(v))],
  ["instructions", "instructions", (v) => count(Number(v))], ["flops", "FLOPs", (v) => count(Number(v))],
  ["bytes", "bytes", (v) => bytes(Number(v))], ["intensity", "FLOP/B", (v) => count(Number(v))], ["bound", "bound", String],
  ["fused_into", "fused into", String],
];
// the numerics check (bf16 vs fp32), shown after "%" for profiles made with --check-numerics
COLUMNS.splice(COLUMNS.findIndex(([key]) => key === "percent") + 1, 0,
  ["max_rel_err", "max rel err", (v) => relError(v === null ? null : Number(v))],
  ["cosine", "cosine", (v) => cosine(v === null ? null : Number(v))]);
const NUMERICS: (keyof OpRows)[] = ["max_rel_err", "cosine"];

export const opsView: View = {
  id: "ops",
  title: "Ops",
  mount(container, context) {
    const state = context.state;
    let sort = state.sort ?? "time_ns";
    let order = state.order ?? "desc";
    let query = state.q ?? "";
    let request: AbortController | null = null;
    const search = h("input", { type: "search", id: "np-ops-search", placeholder: "filter by name, type or scope", value: query });
    const download = h("a", { id: "np-ops-csv", className: "np-button", download: "" }, "Download CSV");
    const table = h("div", { className: "np-table-wrap" });
    container.append(h("div", { className: "np-toolbar" }, search, download), table);

    const load = () => {
      request?.abort();
      const params = { ...profileParams(state), sort, order, q: query };
      download.setAttribute("href", url("ops", { ...params, format: "csv" }));
      request = fetchInto(table, (signal) => getJSON<Ops>("ops", params, signal), ({ rows }) => {
        clear(table);
        const head = h("tr");
        const checked = (rows.max_rel_err ?? []).some((v) => v !== null);
        const columns = COLUMNS.filter(([key]) => checked || !NUMERICS.includes(key));
        for (const [key, title] of columns) {
          const arrow = key === sort ? (order === "desc" ? " \u25BC" : " \u25B2") : "";
          head.append(h("th", { "data-sort": key, onclick: () => {
            order = key === sort && order === "desc" ? "asc" : "desc";
            sort = key;
            context.navigate({ sort, order, q: query });
          } }, title + arrow));
        }
        head.insertBefore(h("th", {}, "show in"), head.children[1] ?? null);  // next to the name, always in view
        const body = h("tbody");
        (rows.name ?? []).forEach((_, i) => {
          const node = String(rows.node[i]);
          // a row opens the graph on its node; its Timeline button opens the timeline with the node's
          // fusion group marked, zoomed to its first occurrence (the node stays selected in both views)
          const tr = h("tr", { "data-node": node, title: "show in the graph",
            onclick: () => context.navigate({ view: "graph", node }) });
          for (const [key, , fmt] of columns) tr.append(h("td", { "data-column": key }, fmt(rows[key][i])));
          tr.insertBefore(h("td", { className: "np-row-actions" },
            h("button", { className: "np-link-button", "data-show": "graph", title: "open the graph on this node",
              onclick: (e: Event) => { e.stopPropagation(); context.navigate({ view: "graph", node }); } }, "Graph"),
            " ",
            h("button", { className: "np-link-button", "data-show": "timeline", title: "mark this node's instructions on the timeline",
              onclick: (e: Event) => { e.stopPropagation(); context.navigate({ view: "timeline", node, start_ns: undefined, end_ns: undefined }); } },
            "Timeline")), tr.children[1] ?? null);
          if (node === state.node) tr.classList.add("np-picked-row");
          body.append(tr);
        });
        table.append(h("table", { className: "np-table", id: "np-ops-table" }, h("thead", {}, head), body),
          h("p", { className: "np-note" }, `${rows.name?.length ?? 0} ops`));
      });
    };
    let timer = 0;
    search.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => {
        query = search.value;
        load();
      }, 200);
    });
    load();
    return () => {
      request?.abort();
      window.clearTimeout(timer);
    };
  },
};
