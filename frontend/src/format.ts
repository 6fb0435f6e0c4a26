// Number formatting shared by the views.
export function duration(ns: number | null | undefined): string {
  if (ns === null || ns === undefined || !isFinite(ns)) return "-";
  const abs = Math.abs(ns);
  if (abs >= 1e9) return `${(ns / 1e9).toFixed(2)} s`;
  if (abs >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (abs >= 1e3) return `${(ns / 1e3).toFixed(1)} us`;
  return `${Math.round(ns)} ns`;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !isFinite(n)) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

export function count(n: number | null | undefined): string {
  if (n === null || n === undefined || !isFinite(n)) return "-";
  if (Math.abs(n) >= 1e12) return `${(n / 1e12).toFixed(2)} T`;
  if (Math.abs(n) >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (Math.abs(n) >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(Math.round(n * 100) / 100);
}

export function percent(n: number | null | undefined): string {
  return n === null || n === undefined || !isFinite(n) ? "-" : `${n.toFixed(1)}%`;
}

// A stable colour per name (same op, same colour in every view).
export function colorOf(name: string): string {
  let hash = 2166136261;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 16777619);
  const hue = (hash >>> 0) % 360;
  return `hsl(${hue}, 55%, 55%)`;
}

// A relative error (0.0123 -> "1.23%") and a cosine similarity, as the numerics debugger shows them.
export function relError(v: number | null | undefined): string {
  return v === null || v === undefined || !isFinite(v) ? "-" : `${Number((100 * v).toPrecision(3))}%`;
}

export function cosine(v: number | null | undefined): string {
  return v === null || v === undefined || !isFinite(v) ? "-" : v.toFixed(6);
}
