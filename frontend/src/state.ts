// The dashboard's state lives in the URL hash (deep links): #view=ops&run=a&profile=b&...
export interface State {
  view: string;
  run?: string;
  profile?: string;
  other_run?: string;
  other_profile?: string;
  start_ns?: string;
  end_ns?: string;
  node?: string;
  [key: string]: string | undefined;
}

export function readState(hash: string = window.location.hash): State {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const state: State = { view: params.get("view") || "overview" };
  params.forEach((value, key) => {
    if (key !== "view") state[key] = value;
  });
  return state;
}

export function writeState(state: State): void {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(state)) {
    if (value !== undefined && value !== "") params.set(key, value);
  }
  const hash = "#" + params.toString();
  if (window.location.hash !== hash) window.history.replaceState(null, "", hash);
}
