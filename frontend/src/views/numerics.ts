// The numerics debugger's parts of the Overview and Compare views: bf16 (device) against fp32 (reference) per
// op, from the profile's numerics table (`run --check-numerics`), as the backend serves it.
import { NumericsCompare, NumericsRow, NumericsSummary, NumericsTotals } from "../contract";
import { h } from "../dom";
import { cosine, relError } from "../format";

function card(label: string, value: string, id: string): HTMLElement {
  return h("div", { className: "np-card", "data-metric": id }, h("div", { className: "np-card-value" }, value),
    h("div", { className: "np-card-label" }, label));
}

function growth(row: NumericsRow): string {
  return row.growth === null ? "starts" : `${row.growth.toFixed(1)}x`;
}

// Overview: totals, the first op over the tolerance, the worst ops (rows open the graph) and the advice.
export function numericsSection(s: NumericsSummary | null, openNode: (node: number) => void): HTMLElement[] {
  if (!s) return [];
  const first = s.first_over;
  const cards = h("div", { className: "np-cards", id: "np-numerics-cards" },
    card("output max rel err", relError(s.output_rel_err), "numerics_output_rel_err"),
    card("output cosine", cosine(s.output_cosine), "numerics_output_cosine"),
    card(`ops over ${relError(s.tolerance)}`, `${s.over_tolerance} of ${s.compared}`, "numerics_over"),
    card("first over tolerance", first ? first.name : "none", "numerics_first_over"));
  const rows = s.worst.map((r) => h("tr", { "data-node": r.node, className: "np-clickable", title: "show in the graph",
    onclick: () => openNode(r.node) }, h("td", {}, r.name), h("td", {}, r.op_type), h("td", {}, r.bf16 ? "bf16" : "fp32"),
    h("td", {}, relError(r.max_rel_err)), h("td", {}, relError(r.input_rel_err)), h("td", {}, growth(r)),
    h("td", {}, relError(r.added_rel_err)), h("td", {}, cosine(r.cosine))));
  const worst = h("table", { className: "np-table np-table-compact", id: "np-numerics-worst" },
    h("thead", {}, h("tr", {}, ...["op", "type", "dtype", "max rel err", "input rel err", "growth", "added", "cosine"]
      .map((t) => h("th", {}, t)))), h("tbody", {}, ...rows));
  const advice = s.exclude_option
    ? h("p", { className: "np-warning", id: "np-numerics-advice" },
      `Keep the ${s.advice.length} ${s.advice_op_types.join("/")} op(s) adding the most error in fp32: recompile with `,
      h("code", {}, s.exclude_option), " and compare the two profiles.")
    : h("p", { className: "np-note", id: "np-numerics-advice" }, `Every op is within the tolerance of ${relError(s.tolerance)}: nothing to keep in fp32.`);
  return [h("h3", { id: "np-numerics" }, "Numerics: bf16 on the device against the fp32 reference"), cards, advice,
    h("p", { className: "np-note" }, "Worst ops by the relative error they add to their inputs' (growth: their error over their inputs')."),
    worst];
}

function totals(t: NumericsTotals | null): string[] {
  return t ? [relError(t.output_rel_err), cosine(t.output_cosine), relError(t.max_rel_err), String(t.over_tolerance), String(t.bf16_nodes)]
    : ["-", "-", "-", "-", "-"];
}

// Compare: the two profiles' numerics side by side (e.g. before and after --autocast-exclude), then per op.
export function compareNumericsSection(n: NumericsCompare | null, baseLabel: string, otherLabel: string): HTMLElement[] {
  if (!n) return [];
  const [a, b] = [totals(n.base), totals(n.other)];
  const names = ["output max rel err", "output cosine", "largest op rel err", "ops over tolerance", "ops in bf16"];
  const summary = h("tbody", {}, ...names.map((name, i) => h("tr", {}, h("td", {}, name), h("td", {}, a[i]), h("td", {}, b[i]))));
  const ops = h("tbody", {}, ...n.ops.map((op) => h("tr", { "data-op": op.name }, h("td", {}, op.name), h("td", {}, op.op_type),
    h("td", {}, relError(op.base_rel_err)), h("td", {}, relError(op.other_rel_err)),
    h("td", { className: op.delta !== null && op.delta > 0 ? "np-worse" : "np-better" },
      op.delta === null ? "only in one" : `${op.delta >= 0 ? "+" : "-"}${relError(Math.abs(op.delta))}`))));
  return [h("h3", {}, "Numerics: bf16 error before and after"),
    h("table", { className: "np-table", id: "np-compare-numerics" }, h("thead", {}, h("tr", {}, h("th", {}, ""),
      h("th", {}, baseLabel), h("th", {}, otherLabel))), summary),
    h("table", { className: "np-table", id: "np-compare-numerics-ops" }, h("thead", {}, h("tr", {}, ...["op", "type", "base rel err",
      "other rel err", "change"].map((t) => h("th", {}, t)))), ops)];
}
