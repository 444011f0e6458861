// Talking to the twin: every failure becomes an ApiError with a sentence a planner can read.
import { t } from './i18n.js';

export class ApiError extends Error {
  constructor(message, status = 0, body = null) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

async function readError(response) {
  let description = response.statusText || 'error';
  let body = null;
  try {
    body = await response.json();
    description = body.description ?? body.detail ?? body.message ?? JSON.stringify(body);
  } catch {
    /* not JSON: keep the status text */
  }
  return new ApiError(t('err.server', { status: response.status, description }), response.status, body);
}

/** A request index.html started before the modules loaded, taken once. */
function prefetched(url) {
  const pending = window.twinPrefetch?.[url];
  if (pending) delete window.twinPrefetch[url];
  return pending;
}

async function request(url, options = {}) {
  let response;
  try {
    response = await ((!options.method && prefetched(url)) || fetch(url, options));
  } catch (error) {
    throw new ApiError(t('err.network', { error: error.message }));
  }
  if (!response.ok) throw await readError(response);
  try {
    return await response.json();
  } catch (error) {
    throw new ApiError(t('err.server', { status: response.status, description: `not JSON (${error.message})` }), response.status);
  }
}

export function getJSON(url) {
  return request(url, { headers: { Accept: 'application/json' } });
}

export function postJSON(url, body) {
  return request(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
}

/** OGC API Processes: execute synchronously and return the JSON result. */
export function execute(processId, inputs) {
  return postJSON(`/processes/${encodeURIComponent(processId)}/execution`, { inputs });
}

/** OGC API Features items with query parameters; `f=json` so pygeoapi never answers HTML. */
export function items(collection, params = {}) {
  const query = new URLSearchParams({ f: 'json', ...params });
  return getJSON(`/collections/${encodeURIComponent(collection)}/items?${query}`);
}

export function item(collection, id) {
  return getJSON(`/collections/${encodeURIComponent(collection)}/items/${encodeURIComponent(id)}?f=json`);
}
