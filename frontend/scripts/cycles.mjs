// Fails when the modules under src/ import each other in a circle (a view importing the shell that imports
// every view was one). Reads the relative `import ... from "./x"` statements (type-only ones too: they still
// tie the modules together) and searches the graph depth first; prints each cycle found.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "src");

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") && !path.endsWith(".d.ts") ? [path] : [];
  });
}

function target(from, spec) {
  const base = resolve(dirname(from), spec);
  for (const path of [base + ".ts", join(base, "index.ts")]) if (existsSync(path)) return path;
  throw new Error(`${relative(root, from)}: cannot resolve ${spec}`);
}

const graph = new Map();
for (const file of files(root)) {
  const text = readFileSync(file, "utf8");
  const specs = [...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+["'](\.[^"']+)["']/gms)].map((m) => m[1]);
  graph.set(file, specs.filter((s) => !s.endsWith(".css")).map((s) => target(file, s)));
}

const cycles = [];
const state = new Map();   // 1: on the current path, 2: done
const path = [];
function visit(file) {
  state.set(file, 1);
  path.push(file);
  for (const next of graph.get(file)) {
    if (state.get(next) === 1) cycles.push([...path.slice(path.indexOf(next)), next]);
    else if (!state.has(next)) visit(next);
  }
  path.pop();
  state.set(file, 2);
}
for (const file of graph.keys()) if (!state.has(file)) visit(file);

const edges = [...graph.values()].reduce((n, list) => n + list.length, 0);
if (cycles.length) {
  for (const cycle of cycles) console.error("import cycle: " + cycle.map((f) => relative(root, f)).join(" -> "));
  process.exit(1);
}
console.log(`no import cycles among ${graph.size} modules (${edges} imports)`);
