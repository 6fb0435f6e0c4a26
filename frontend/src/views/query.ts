// Query: SQL over the profile's tables, run by the backend (DuckDB, read-only, row and time limits); an editor,
// example queries and the tables' columns from `query_schema`, the result as a table and as a CSV download.
import { getJSON, url } from "../api";
import { QueryAnswer, QuerySchema } from "../contract";
import { clear, h } from "../dom";
import { count } from "../format";
import { fetchInto } from "../show";
import { profileParams, View } from "./types";

const ROW_LIMIT = 1000;
const DEFAULT_SQL = "SELECT name, op_type, engine, time_ns, percent FROM nodes ORDER BY time_ns DESC LIMIT 20";

function cellText(value: string | number | boolean | null): string {
  if (value === null) return "NULL";
  if (typeof value === "number" && !Number.isInteger(value)) return value.toPrecision(6).replace(/\.?0+$/, "");
  return String(value);
}

export const queryView: View = {
  id: "query",
  title: "Query",
  mount(container, context) {
    const state = context.state;
    const editor = h("textarea", { id: "np-query-sql", className: "np-query-editor", rows: 6, spellcheck: false,
      "aria-label": "SQL query" }) as HTMLTextAreaElement;
    editor.value = state.sql ?? DEFAULT_SQL;
    const examples = h("select", { id: "np-query-examples", "aria-label": "example queries" },
      h("option", { value: "" }, "Examples...")) as HTMLSelectElement;
    const run = h("button", { className: "np-button", id: "np-query-run", title: "Ctrl+Enter" }, "Run");
    const download = h("a", { id: "np-query-csv", className: "np-button", download: "" }, "Download CSV");
    const status = h("span", { className: "np-note", id: "np-query-status" });
    const schema = h("details", { className: "np-query-schema", id: "np-query-schema" }, h("summary", {}, "Tables"));
    const result = h("div", { className: "np-table-wrap", id: "np-query-result" });
    container.append(h("div", { className: "np-toolbar" }, run, examples, download, status), editor, schema, result);

    let request: AbortController | null = null;
    const execute = () => {
      request?.abort();
      const sql = editor.value;
      const params = { ...profileParams(state), sql, limit: ROW_LIMIT };
      download.setAttribute("href", url("query", { ...params, format: "csv" }));
      if (state.sql !== sql) context.navigate({ sql });   // the query is part of the link
      status.textContent = "Running...";
      request = fetchInto(result, (signal) => getJSON<QueryAnswer>("query", params, signal), (answer) => {
        clear(result);
        const head = h("tr", {}, ...answer.columns.map((c, i) => h("th", { title: answer.types[i] }, c)));
        const body = h("tbody", {}, ...answer.rows.map((row) => h("tr", {}, ...row.map((v) =>
          h("td", { className: typeof v === "number" ? "np-num" : "" }, cellText(v))))));
        result.append(h("table", { className: "np-table", id: "np-query-table" }, h("thead", {}, head), body));
        status.textContent = `${count(answer.rows.length)} row${answer.rows.length === 1 ? "" : "s"}`
          + `${answer.truncated ? ` (first ${count(ROW_LIMIT)} shown)` : ""} in ${(answer.seconds * 1000).toFixed(0)} ms`;
      });
    };
    run.addEventListener("click", execute);
    editor.addEventListener("keydown", (e: KeyboardEvent) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        execute();
      }
    });
    const schemaRequest = fetchInto(schema, (signal) => getJSON<QuerySchema>("query_schema", profileParams(state), signal),
      (answer) => {
        for (const example of answer.examples) examples.append(h("option", { value: example.sql }, example.title));
        const list = h("dl");
        for (const table of answer.tables) {
          list.append(h("dt", {}, `${table.name}${table.kind === "view" ? " (view)" : ""}`),
            h("dd", {}, table.columns.map((c, i) => `${c} ${table.types[i]}`).join(", ")));
        }
        schema.append(list);
      });
    examples.addEventListener("change", () => {
      if (!examples.value) return;
      editor.value = examples.value;
      examples.value = "";
      execute();
    });
    execute();
    return () => {
      request?.abort();
      schemaRequest.abort();
    };
  },
};
