// What every view does with a request: show an error in place of its content when the request fails (but not
// when the view went away and aborted it), and abort the request when the view is disposed.
import { ApiError } from "./api";
import { clear, h } from "./dom";

export function errorBox(error: unknown): HTMLElement {
  const message = error instanceof ApiError ? error.message : error instanceof Error ? error.message : String(error);
  const status = error instanceof ApiError ? ` (HTTP ${error.status})` : "";
  return h("div", { className: "np-error", role: "alert" }, h("strong", {}, `Cannot show this profile${status}: `), message);
}

// Replaces what `target` holds with the error box.
export function showError(target: HTMLElement, error: unknown): void {
  clear(target);
  target.append(errorBox(error));
}

// Starts `request` and hands its answer to `render`; a failure of either (unless aborted) becomes the error
// box in `target`. Returns the controller whose abort() cancels the request: a view's dispose calls it.
export function fetchInto<T>(target: HTMLElement, request: (signal: AbortSignal) => Promise<T>,
  render: (data: T) => void): AbortController {
  const controller = new AbortController();
  request(controller.signal).then(render).catch((error: unknown) => {
    if (!controller.signal.aborted) showError(target, error);
  });
  return controller;
}
