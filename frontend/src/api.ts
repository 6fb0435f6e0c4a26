// The backend's routes, fetched with relative URLs (they work under --path_prefix and behind proxies).
export class ApiError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

export type Params = Record<string, string | number | undefined>;

export function url(route: string, params: Params = {}): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== "") query.set(key, String(value));
  }
  const text = query.toString();
  return `./${route}${text ? "?" + text : ""}`;
}

export async function getJSON<T>(route: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  const response = await fetch(url(route, params), { signal });
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(response.status, `${route}: the server answered ${response.status} without JSON`);
  }
  if (!response.ok) {
    const message = (body as { error?: string } | null)?.error ?? `HTTP ${response.status}`;
    throw new ApiError(response.status, message);
  }
  return body as T;
}
