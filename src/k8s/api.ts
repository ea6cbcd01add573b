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

/** The group, version and plural of the ProcessSet resource. */
export const PS = { group: 'procmgr.dev', version: 'v1alpha1', plural: 'processsets' } as const;

/** The parts of a ProcessSet the sidecar reads. */
export interface ProcessSetObject {
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly uid?: string; readonly generation?: number; readonly resourceVersion?: string };
  readonly spec?: { readonly processes?: unknown };
}

/** One watch event, as the API server sends it. */
export type WatchEvent =
  | { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED'; readonly object: ProcessSetObject }
  | { readonly type: 'BOOKMARK'; readonly object: { readonly metadata: { readonly resourceVersion?: string } } }
  | { readonly type: 'ERROR'; readonly object: { readonly code?: number; readonly message?: string } };

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

/** The HTTP status of an error from the API server (or undefined for a connection failure). */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { statusCode?: unknown; code?: unknown } | undefined)?.statusCode;
  return typeof code === 'number' ? code : undefined;
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
  const watcher = new Watch(kc);
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

/** A KubeConfig for the sidecar: in-cluster when running in a pod, else $KUBECONFIG / ~/.kube/config. */
export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file !== undefined) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}
