// "Open in Perfetto": the documented window.open + postMessage protocol of ui.perfetto.dev
// (https://perfetto.dev/docs/visualization/deep-linking-to-perfetto-ui): open the UI, post 'PING' until
// it answers 'PONG' (its message channel is not buffered), then post {perfetto: {buffer, title, fileName}}.
import { ApiError, Params, url } from "./api";

export const PERFETTO_ORIGIN = "https://ui.perfetto.dev";
const PING_MS = 100;
const HANDSHAKE_TIMEOUT_MS = 60_000;

export async function openInPerfetto(params: Params, title: string, progress: (text: string) => void): Promise<void> {
  // window.open must run synchronously inside the click (pop-up blockers), before any await
  const handle = window.open(PERFETTO_ORIGIN + "/");
  if (!handle) throw new Error("the browser blocked the Perfetto window: allow pop-ups for TensorBoard");
  const ready = handshake(handle);
  try {
    progress("fetching the trace...");
    const response = await fetch(url("export", { ...params, format: "perfetto" }));
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try {
        message = ((await response.json()) as { error?: string }).error ?? message;
      } catch {
        // not JSON: keep the status
      }
      throw new ApiError(response.status, message);
    }
    const fileName = fileNameOf(response.headers.get("Content-Disposition")) ?? "trace.pftrace";
    const buffer = await response.arrayBuffer();
    progress(`waiting for Perfetto to answer (${(buffer.byteLength / 1048576).toFixed(1)} MiB ready)...`);
    await ready.promise;
    handle.postMessage({ perfetto: { buffer, title, fileName } }, PERFETTO_ORIGIN);
    progress(`sent ${fileName} to Perfetto`);
  } finally {
    ready.cancel();
  }
}

function handshake(handle: Window): { promise: Promise<void>; cancel: () => void } {
  let cancel = () => undefined as void;
  const promise = new Promise<void>((resolve, reject) => {
    const onMessage = (event: MessageEvent) => {
      if (event.source === handle && event.data === "PONG") {
        cancel();
        resolve();
      }
    };
    const ping = window.setInterval(() => {
      if (handle.closed) {
        cancel();
        reject(new Error("the Perfetto window was closed"));
        return;
      }
      handle.postMessage("PING", PERFETTO_ORIGIN);
    }, PING_MS);
    const timeout = window.setTimeout(() => {
      cancel();
      reject(new Error(`${PERFETTO_ORIGIN} did not answer within ${HANDSHAKE_TIMEOUT_MS / 1000} s (is it reachable from this browser?)`));
    }, HANDSHAKE_TIMEOUT_MS);
    cancel = () => {
      window.clearInterval(ping);
      window.clearTimeout(timeout);
      window.removeEventListener("message", onMessage);
    };
    window.addEventListener("message", onMessage);
  });
  promise.catch(() => undefined);  // a failure is reported where the promise is awaited
  return { promise, cancel: () => cancel() };
}

function fileNameOf(disposition: string | null): string | null {
  const match = disposition ? /filename="?([^";]+)"?/.exec(disposition) : null;
  return match ? match[1] : null;
}
