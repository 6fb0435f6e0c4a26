// A progress bar for a profile being loaded on the server: asks the `progress` route (which starts the load
// if needed) alongside the view's own request, and shows how far the read and index have got until it is ready.
import { getJSON, Params } from "./api";
import { Progress } from "./contract";
import { clear, h } from "./dom";

const POLL_MS = 100;

export class LoadProgress {
  readonly element = h("div", { className: "np-load", id: "np-load-progress", role: "status", hidden: true });
  private token = 0;

  // Follow the load of one profile (forgetting any earlier one); errors are the view's to show.
  watch(params: Params): void {
    const token = ++this.token;
    this.element.hidden = true;   // an earlier profile's bar goes at once
    clear(this.element);
    const bar = h("progress", { max: 1, value: 0 });
    const label = h("span", { className: "np-note" });
    const poll = async (): Promise<void> => {
      let status: Progress;
      try {
        status = await getJSON<Progress>("progress", params);
      } catch {
        status = { state: "ready", fraction: 1, stage: "", bytes: 0 };
      }
      if (token !== this.token) return;
      if (status.state !== "loading") {
        this.element.hidden = true;
        clear(this.element);
        return;
      }
      if (this.element.hidden) {
        clear(this.element);
        this.element.append(bar, label);
        this.element.hidden = false;
      }
      bar.value = status.fraction;
      label.textContent = `Loading the profile (${(status.bytes / 1048576).toFixed(1)} MiB): ${status.stage}, `
        + `${Math.round(status.fraction * 100)}%`;
      window.setTimeout(() => void poll(), POLL_MS);
    };
    void poll();
  }
}
