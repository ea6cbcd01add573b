import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type CoreV1Event,
} from '@kubernetes/client-node';
import { STATUS_CODES } from 'node:http';
import { describe } from '../util/index.js';

/** The group, version and plural of the ProcessSet resource. */
export const PS = { group: 'procmgr.dev', version: 'v1alpha1', plural: 'processsets' } as const;

/** The parts of a ProcessSet the sidecar reads (a ConfigMap source is mapped onto the same shape). */
export interface ProcessSetObject {
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly uid?: string; readonly generation?: number; readonly resourceVersion?: string };
  readonly spec?: { readonly processes?: unknown };
  /** Set when the source could not even be read as a process list (a ConfigMap key that is not YAML). */
  readonly sourceError?: string;
}

/** One watch event, as the API server sends it. */
export type WatchEvent =
  | { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED'; readonly object: ProcessSetObject }
  | { readonly type: 'BOOKMARK'; readonly object: { readonly metadata: { readonly resourceVersion?: string } } }
  | { readonly type: 'ERROR'; readonly object: { readonly code?: number; readonly reason?: string; readonly message?: string } };

/** A Kubernetes Event as the recorder writes it (core/v1). */
export interface EventBody {
  readonly reason: string;
  readonly message: string;
  readonly type: 'Normal' | 'Warning';
  readonly count: number;
  readonly firstTimestamp: Date;
  readonly lastTimestamp: Date;
}

/** The object Events are about: the sidecar's pod (downward API), or else the ProcessSet. */
export interface InvolvedObject {
  readonly kind: string;
  readonly apiVersion: string;
  readonly name: string;
  readonly namespace: string;
  readonly uid?: string | undefined;
}

/**
 * The sidecar's port to the API server: one named ProcessSet in one namespace, its status, and
 * Events. The watch loop, status writer and recorder depend on this interface only, so their unit
 * tests use a fake; `clientNodeApi` is the real one.
 */
export interface ProcessSetApi {
  readonly namespace: string;
  readonly name: string;
  /** The set (undefined when it does not exist) and the collection's resourceVersion to watch from. */
  list(signal: AbortSignal): Promise<{ readonly object: ProcessSetObject | undefined; readonly resourceVersion: string }>;
  /** Starts a watch from `resourceVersion`; `done` is called once when it ends (err undefined: closed by the server). */
  watch(resourceVersion: string, onEvent: (e: WatchEvent) => void, done: (err: unknown) => void): Promise<AbortController>;
  /** Merge-patches `status` of the set. */
  patchStatus(status: Record<string, unknown>, signal: AbortSignal): Promise<void>;
  createEvent(name: string, involved: InvolvedObject, body: EventBody): Promise<void>;
  patchEvent(name: string, patch: { readonly count: number; readonly lastTimestamp: Date; readonly message: string }): Promise<void>;
}

/**
 * client-node's Watch aborts a watch that received nothing for 30 s (a private `requestTimeoutMs`),
 * but an idle watch of one object gets bookmarks only about once a minute: every quiet minute
 * would cost a relist. The server ends our watches after `timeoutSeconds` (300) anyway, and the
 * loop's own watchdog catches a stuck one, so the client-side limit goes beyond both.
 */
function quietWatch(kc: KubeConfig): Watch {
  const watch = new Watch(kc);
  (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = 330_000;
  return watch;
}

/** The HTTP status of an error from the API server (or undefined for a connection failure). */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { statusCode?: unknown; code?: unknown } | undefined)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** A failed API call as a log line can carry it: one line of text, the HTTP status and the Status reason. */
export interface ApiErrorSummary {
  /** One line, at most `API_ERROR_MAX_CHARS`, e.g. `events "x" is forbidden: User "…" cannot create … (403 Forbidden)`. */
  readonly message: string;
  /** The HTTP status; undefined when no response came (refused connection, timeout, abort). */
  readonly code: number | undefined;
  /** The `reason` of the server's Status (`Forbidden`, `NotFound`, `AlreadyExists`, `Expired`…), else the HTTP status text. */
  readonly reason: string | undefined;
}

/** Longest message `describeApiError` returns: a 422 can list every invalid field, a proxy can answer with a page of HTML. */
export const API_ERROR_MAX_CHARS = 1_000;

interface StatusBody {
  readonly message?: unknown;
  readonly reason?: unknown;
  readonly code?: unknown;
}

/**
 * client-node's ApiException puts the server's Status in `body` as unparsed JSON text and builds
 * its `message` from `JSON.stringify(body)`, so a log shows `Unknown API Status Code!` and the
 * real explanation escaped three times. Anything else (a watch's `Error` with `statusCode`, a
 * fetch failure) keeps its own message.
 */
function statusBody(body: unknown): StatusBody | string | undefined {
  if (typeof body === 'object' && body !== null) return body;
  if (typeof body !== 'string' || body.trim() === '') return undefined;
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed) : body;
  } catch {
    return body; // not JSON: a proxy's or load balancer's page
  }
}

function oneLine(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this removes
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/ {2,}/g, ' ').trim();
  if (flat.length <= max) return flat;
  let end = max - 1;
  if (/[\ud800-\udbff]/.test(flat.charAt(end - 1))) end--; // never split a surrogate pair
  return `${flat.slice(0, end)}…`;
}

function causeText(err: Error): string {
  const cause = err.cause;
  if (cause instanceof Error && cause.message !== '' && !err.message.includes(cause.message)) return `${err.message}: ${cause.message}`;
  return err.message;
}

/**
 * Any error from a call to the API server (list, watch, status patch, Event) as one readable
 * line with its HTTP status and reason, the way kubectl shows it. Callers in src/k8s log
 * `apiErrorFields(err)` instead of `err.message`.
 */
export function describeApiError(err: unknown): ApiErrorSummary {
  const code = statusOf(err);
  let text: string;
  let reason: string | undefined;
  if (err instanceof ApiException) {
    const body = statusBody(err.body);
    if (typeof body === 'object') {
      reason = typeof body.reason === 'string' && body.reason !== '' ? body.reason : undefined;
      text = typeof body.message === 'string' && body.message !== '' ? body.message : '';
    } else text = body ?? '';
  } else if (err instanceof Error) {
    text = causeText(err);
    const r = (err as { reason?: unknown }).reason; // a watch's ERROR event carries the Status reason
    if (typeof r === 'string' && r !== '') reason = r;
  } else text = describe(err);
  reason ??= code === undefined ? undefined : STATUS_CODES[code];
  // A 401 without a body, or a refused watch (client-node reads no body there), says only its status.
  if (text.trim() === '' || (code !== undefined && [reason, STATUS_CODES[code]].some((r) => r?.toLowerCase() === text.trim().toLowerCase()))) text = 'request failed';
  const suffix = code === undefined ? '' : ` (${code}${reason === undefined ? '' : ` ${reason}`})`;
  return { message: `${oneLine(text, API_ERROR_MAX_CHARS - suffix.length)}${suffix}`, code, reason };
}

/** `describeApiError` as pino fields: `{ err, code, reason }` (code and reason left out when unknown). */
export function apiErrorFields(err: unknown): { readonly err: string; readonly code?: number; readonly reason?: string } {
  const d = describeApiError(err);
  return { err: d.message, ...(d.code === undefined ? {} : { code: d.code }), ...(d.reason === undefined ? {} : { reason: d.reason }) };
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason as Error);
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}

/** The real `ProcessSetApi` on @kubernetes/client-node. */
export function clientNodeApi(kc: KubeConfig, namespace: string, name: string): ProcessSetApi {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const watcher = quietWatch(kc);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const path = `/apis/${PS.group}/${PS.version}/namespaces/${encodeURIComponent(namespace)}/${PS.plural}`;
  return {
    namespace,
    name,
    async list(signal) {
      // client-node calls take no AbortSignal: race them, so a stop never waits on a slow server.
      const res = (await Promise.race([
        custom.listNamespacedCustomObject({ ...PS, namespace, fieldSelector: `metadata.name=${name}` }),
        aborted(signal),
      ])) as { items?: ProcessSetObject[]; metadata?: { resourceVersion?: string } };
      return { object: res.items?.[0], resourceVersion: res.metadata?.resourceVersion ?? '' };
    },
    watch(resourceVersion, onEvent, done) {
      const query = { fieldSelector: `metadata.name=${name}`, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300 };
      return watcher.watch(path, query, (type: string, object: unknown) => onEvent({ type, object } as WatchEvent), done);
    },
    async patchStatus(status, signal) {
      await Promise.race([custom.patchNamespacedCustomObjectStatus({ ...PS, namespace, name, body: { status } }, mergePatch), aborted(signal)]);
    },
    async createEvent(eventName, involved, body) {
      const event: CoreV1Event = {
        metadata: { name: eventName, namespace },
        involvedObject: { kind: involved.kind, apiVersion: involved.apiVersion, name: involved.name, namespace: involved.namespace, ...(involved.uid ? { uid: involved.uid } : {}) },
        reason: body.reason,
        message: body.message,
        type: body.type,
        count: body.count,
        firstTimestamp: body.firstTimestamp,
        lastTimestamp: body.lastTimestamp,
        source: { component: 'procmgr' },
        reportingComponent: 'procmgr',
      };
      await core.createNamespacedEvent({ namespace, body: event });
    },
    async patchEvent(eventName, patch) {
      await core.patchNamespacedEvent({ name: eventName, namespace, body: patch }, mergePatch);
    },
  };
}

interface ConfigMapObject {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly uid?: string; readonly resourceVersion?: string };
  readonly data?: Record<string, string>;
}

/** A ConfigMap's `key` as a ProcessSet: its YAML is a `processes` list, or an object with one. */
export function configMapAsProcessSet(cm: ConfigMapObject, key: string, parse: (text: string, source: string) => unknown): ProcessSetObject {
  const metadata = { name: cm.metadata?.name ?? '', ...cm.metadata };
  const text = cm.data?.[key];
  if (text === undefined) return { metadata, sourceError: `ConfigMap ${metadata.name} has no key "${key}"` };
  try {
    const doc = parse(text, `configmap/${metadata.name}[${key}]`);
    const processes = doc !== null && typeof doc === 'object' && !Array.isArray(doc) && 'processes' in doc ? (doc).processes : (doc ?? []);
    return { metadata, spec: { processes } };
  } catch (err) {
    return { metadata, sourceError: describe(err) };
  }
}

/**
 * The ConfigMap source: the same port over one ConfigMap key. A ConfigMap has no status
 * subresource, so status writes are dropped (Events still go out).
 */
export function configMapApi(kc: KubeConfig, namespace: string, name: string, key: string, parse: (text: string, source: string) => unknown): ProcessSetApi {
  const core = kc.makeApiClient(CoreV1Api);
  const events = clientNodeApi(kc, namespace, name);
  const watcher = quietWatch(kc);
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`;
  return {
    namespace,
    name,
    async list(signal) {
      const res = await Promise.race([core.listNamespacedConfigMap({ namespace, fieldSelector: `metadata.name=${name}` }), aborted(signal)]);
      const cm = res.items[0];
      return { object: cm ? configMapAsProcessSet(cm, key, parse) : undefined, resourceVersion: res.metadata?.resourceVersion ?? '' };
    },
    watch(resourceVersion, onEvent, done) {
      const query = { fieldSelector: `metadata.name=${name}`, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300 };
      return watcher.watch(
        path,
        query,
        (type: string, object: ConfigMapObject & { code?: number; message?: string }) => {
          if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') onEvent({ type, object: configMapAsProcessSet(object, key, parse) });
          else onEvent({ type, object } as WatchEvent);
        },
        done,
      );
    },
    patchStatus: () => Promise.resolve(),
    createEvent: (n, involved, body) => events.createEvent(n, involved, body),
    patchEvent: (n, patch) => events.patchEvent(n, patch),
  };
}

/** A KubeConfig for the sidecar: in-cluster when running in a pod, else $KUBECONFIG / ~/.kube/config. */
export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file !== undefined) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}
