// The dashboard shell: run and profile selectors, view tabs, the URL-hash state, and the active view.
import { getJSON, url } from "./api";
import { RunEntry, Runs } from "./contract";
import { clear, h } from "./dom";
import { readState, State, writeState } from "./state";
import { openInPerfetto } from "./perfetto";
import { LoadProgress } from "./progress";
import { errorBox } from "./show";
import { VIEWS } from "./views/registry";

const EMPTY_POLL_MS = 3000;

// The downloads of the `export` route (issue 7), per profile.
const EXPORTS: [string, string][] = [
  ["csv", "Op table (CSV)"], ["summary", "Summary (JSON)"], ["chrome", "Chrome trace (JSON)"],
  ["chrome_gz", "Chrome trace (.json.gz)"], ["perfetto", "Perfetto trace (.pftrace)"],
];

export class App {
  private state: State = readState();
  private runs: RunEntry[] = [];
  private header = h("header", { className: "np-header" });
  private body = h("main", { className: "np-body" });
  private progress = new LoadProgress();
  private dispose: (() => void) | null = null;
  private started = false;

  constructor(private root: HTMLElement) {
    root.classList.add("np-root");
    root.append(this.header, this.progress.element, this.body);
    document.addEventListener("click", (event) => {  // a click elsewhere closes the Export menu
      const menu = this.header.querySelector<HTMLDetailsElement>("#np-export");
      if (menu?.open && !menu.contains(event.target as Node)) menu.open = false;
    });
    window.addEventListener("hashchange", () => {
      this.state = readState();
      this.show();
    });
  }

  async start(): Promise<void> {
    // A deep link that names its run mounts the view at once, so the view's own requests (on a big profile not
    // loaded yet, the server's read of it) start alongside the run list; the Compare view needs the list first.
    const early = !this.started && this.state.run !== undefined && this.state.view !== "compare";
    this.started = true;
    if (early) this.show();
    try {
      this.runs = (await getJSON<Runs>("runs")).runs;
    } catch (error) {
      this.fail(error);
      return;
    }
    if (!this.runs.length) {
      this.dispose?.();
      this.dispose = null;
      clear(this.header);
      clear(this.body);
      this.body.append(h("div", { className: "np-empty" },
        h("h2", {}, "No Neuron profiles yet"),
        h("p", {}, "Profiles appear here when a run writes RUN/plugins/neuron/*.trace.pb under the logdir, for example:"),
        h("pre", {}, "neuron-profile run resnet50 --logdir LOGDIR\nNEURON_PROFILE=LOGDIR python my_inference.py"),
        h("p", { className: "np-note", id: "np-empty-watch" }, "Watching the logdir: profiles show here as soon as they are written.")));
      window.setTimeout(() => void this.start(), EMPTY_POLL_MS);  // the plugin rescans the logdir per request
      return;
    }
    if (!this.state.run || !this.runs.some((r) => r.run === this.state.run)) {
      this.state.run = this.runs[0].run;
      this.state.profile = undefined;
      this.show();
    } else if (early) {
      this.renderHeader();   // the view is mounted already: only the selectors needed the run list
    } else {
      this.show();
    }
  }

  navigate(changes: Partial<State>): void {
    this.state = { ...this.state, ...changes } as State;
    writeState(this.state);
    this.show();
  }

  private profilesOf(run: string | undefined) {
    return this.runs.find((r) => r.run === run)?.profiles ?? [];
  }

  private renderHeader(): void {
    clear(this.header);
    const runSelect = h("select", { id: "np-run", "aria-label": "run", onchange: (e: Event) => {
      this.navigate({ run: (e.target as HTMLSelectElement).value, profile: undefined, start_ns: undefined, end_ns: undefined,
        node: undefined, expanded: undefined });
    } });
    for (const r of this.runs) {
      const option = h("option", { value: r.run }, r.run);
      option.selected = r.run === this.state.run;
      runSelect.append(option);
    }
    const profileSelect = h("select", { id: "np-profile", "aria-label": "profile", onchange: (e: Event) => {
      this.navigate({ profile: (e.target as HTMLSelectElement).value, start_ns: undefined, end_ns: undefined, node: undefined });
    } });
    const profiles = this.profilesOf(this.state.run);
    const current = this.state.profile ?? profiles[profiles.length - 1]?.profile;
    for (const p of profiles) {
      const option = h("option", { value: p.profile }, p.profile);
      option.selected = p.profile === current;
      profileSelect.append(option);
    }
    const tabs = h("nav", { className: "np-tabs" });
    for (const view of VIEWS) {
      const tab = h("button", { className: "np-tab", "data-view": view.id, onclick: () => this.navigate({ view: view.id }) }, view.title);
      if (view.id === this.state.view) tab.classList.add("np-active");
      tabs.append(tab);
    }
    this.header.append(h("label", {}, "Run ", runSelect), h("label", {}, "Profile ", profileSelect),
      this.exportMenu(current), tabs);
  }

  private exportMenu(profile: string | undefined): HTMLElement {
    const params = { run: this.state.run, profile };
    const list = h("div", { className: "np-menu-items" });
    for (const [format, label] of EXPORTS) {
      list.append(h("a", { className: "np-menu-item", id: `np-export-${format}`, "data-format": format,
        href: url("export", { ...params, format }), download: "" }, label));
    }
    const progress = h("div", { className: "np-note", id: "np-perfetto-status", role: "status" });
    const open = h("button", { className: "np-menu-item", id: "np-open-perfetto", onclick: () => {
      progress.textContent = "opening ui.perfetto.dev...";
      openInPerfetto(params, `${this.state.run} / ${profile ?? ""}`, (text) => { progress.textContent = text; })
        .catch((error: unknown) => { progress.textContent = `Open in Perfetto failed: ${error instanceof Error ? error.message : String(error)}`; });
    } }, "Open in Perfetto");
    list.append(open, progress);
    return h("details", { className: "np-menu", id: "np-export" }, h("summary", { className: "np-button" }, "Export"), list);
  }

  private show(): void {
    this.renderHeader();
    this.dispose?.();
    this.dispose = null;
    clear(this.body);
    const view = VIEWS.find((v) => v.id === this.state.view) ?? VIEWS[0];
    const container = h("section", { className: "np-view", id: `np-view-${view.id}` });
    this.body.append(container);
    const context = { state: this.state, runs: this.runs, navigate: (c: Partial<State>) => this.navigate(c) };
    this.progress.watch({ run: this.state.run, profile: this.state.profile });
    try {
      this.dispose = view.mount(container, context) ?? null;
    } catch (error) {
      this.fail(error);
    }
  }

  private fail(error: unknown): void {
    this.dispose?.();
    this.dispose = null;
    clear(this.body);
    this.body.append(errorBox(error));
  }
}
