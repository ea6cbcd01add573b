import { z } from 'zod';
import { processIdSchema, processListJsonSchema } from '../config/index.js';
import { PHASES } from '../core/index.js';
import { isSchema, toStructuralSchema, type JsonSchema } from './structural.js';

/**
 * The ProcessSet CustomResourceDefinition (DESIGN §7), built from the same zod schema that
 * validates the config file (DESIGN §5), so the server, the file and the sidecar agree on what a
 * process is. Plain objects only: `hack/gen-docs.ts` renders them to deploy/crd.yaml, and nothing
 * here needs a Kubernetes client.
 */

export const PROCESSSET_GROUP = 'procmgr.dev';
export const PROCESSSET_VERSION = 'v1alpha1';
export const PROCESSSET_API_VERSION = `${PROCESSSET_GROUP}/${PROCESSSET_VERSION}`;
export const PROCESSSET_KIND = 'ProcessSet';
export const PROCESSSET_PLURAL = 'processsets';
export const PROCESSSET_SINGULAR = 'processset';
// `ps` would read as the Unix command, and `kubectl get ps` as "processes".
export const PROCESSSET_SHORT_NAMES: readonly string[] = ['pset'];


// Timestamps are RFC 3339 strings on the wire (metav1.Time); zod's own iso.datetime() would add a
// JS-only pattern that the server need not evaluate when `format` already says it.
const timestamp = z.string().meta({ format: 'date-time' });

const conditionSchema = z
  .object({
    type: z.string().min(1).max(316).describe('`Ready`, `Degraded` or `SpecInvalid`.'),
    status: z.enum(['True', 'False', 'Unknown']),
    observedGeneration: z.int().min(0).optional().describe('The `metadata.generation` the condition describes: for `Ready` and `Degraded` the generation that runs; for `SpecInvalid` the generation it judged (the rejected one when True).'),
    lastTransitionTime: timestamp.describe('When `status` last changed.'),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
      .describe('CamelCase machine-readable cause.'),
    message: z.string().max(32768).describe('Human-readable detail; may be empty.'),
  })
  .describe('A condition in the shape of metav1.Condition, so generic tooling (kubectl wait, kstatus) understands it.');

const processStatusSchema = z
  .object({
    id: processIdSchema,
    phase: z.string().describe(`Engine phase: ${PHASES.join(', ')}.`),
    state: z.string().describe('Runtime state: Stopped, Starting, Running, Stopping, Failed, Backoff or Disabled.'),
    ready: z.boolean().describe('Running, and its readiness probe (if any) passes.'),
    restarts: z.int().min(0).describe('Runs started again after the previous one ended without being asked (exit, crash, failed liveness probe, limit breach, found dead when the sidecar came back), like a container\'s restartCount: what to alert on.'),
    // Optional: a CRD installed by this release must take the status of an older sidecar.
    requestedRestarts: z.int().min(0).optional().describe('Runs started again because someone asked: restart, a changed spec, stop then start. Not in `restarts`.'),
    pid: z.int().min(1).optional().describe('Pid of the current run, inside the sidecar container.'),
    lastExit: z
      .object({
        code: z.int().optional().describe('Exit code; absent when a signal ended it.'),
        signal: z.string().optional().describe('Signal that ended it, e.g. SIGKILL.'),
        at: timestamp.describe('When it exited.'),
      })
      .optional()
      .describe('How the last run ended.'),
    lastError: z.string().optional().describe('The last error procmgr met driving this process (spawn failure, probe failure, ...).'),
  })
  .describe('One process as the sidecar last saw it.');

/**
 * The `status` a sidecar writes (through the status subresource). Typed here rather than left
 * open, so `kubectl explain` documents it, the printer columns can rely on it, and a writer that
 * drifts from it gets an error instead of a silently pruned field. Phase and state are plain
 * strings: a CRD installed by an older release must not reject the status of a newer sidecar.
 */
export const processSetStatusSchema = z
  .object({
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .describe('The `metadata.generation` whose spec runs. A rejected generation never advances it, so while it is behind `metadata.generation` the newest spec is not what runs (see `SpecInvalid`).'),
    processCount: z.int().min(0).optional().describe('Processes the sidecar runs (or is stopping).'),
    readyCount: z.int().min(0).optional().describe('Processes that are ready: running, and passing their readiness probe if they have one.'),
    readyProcesses: z.string().max(32).optional().describe('`readyCount/processCount`, e.g. `2/3` (the `Ready` column).'),
    summary: z
      .enum(['SpecInvalid', 'Degraded', 'NotReady', 'Ready'])
      .optional()
      .describe('The `Status` column, the first that applies: `SpecInvalid` (the newest spec was rejected; the last good one keeps running), `Degraded` (a process is failing or backing off), `NotReady`, `Ready`.'),
    conditions: z.array(conditionSchema).optional().describe('`Ready`: every process is ready (the rule of the sidecar\'s `/readyz`), for the generation that runs; False while no generation runs. `Degraded`: some process is failing or backing off. `SpecInvalid`: the newest spec was rejected; the last good spec keeps running.'),
    processes: z.array(processStatusSchema).optional().describe('Per-process status, one entry per spec process.'),
  })
  .describe('Written by the procmgr sidecar serving this ProcessSet.');

/** `status` of a ProcessSet, as written to the API. */
export type ProcessSetStatus = z.input<typeof processSetStatusSchema>;
export type ProcessSetCondition = z.input<typeof conditionSchema>;
export type ProcessSetProcessStatus = z.input<typeof processStatusSchema>;

function specSchema(): JsonSchema {
  const processes = toStructuralSchema(processListJsonSchema('openapi-3.0'));
  const items = processes.items;
  if (!isSchema(items) || !Array.isArray(items.required) || !items.required.includes('id')) throw new Error('processes[].id must be required to key the list');
  return {
    type: 'object',
    description: 'What the sidecar should run: the `processes` list of the procmgr config file, validated with the same schema.',
    required: ['processes'],
    properties: {
      // A map-list keyed by id: the server rejects duplicate ids, and server-side apply merges
      // entries by id instead of replacing the whole list.
      processes: { ...processes, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['id'] },
    },
  };
}

function statusSchema(): JsonSchema {
  const status = toStructuralSchema(z.toJSONSchema(processSetStatusSchema, { io: 'input', target: 'openapi-3.0' }));
  const props = status.properties;
  if (!isSchema(props) || !isSchema(props.conditions) || !isSchema(props.processes)) throw new Error('status schema lost its lists');
  return {
    ...status,
    properties: {
      ...props,
      conditions: { ...props.conditions, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] },
      processes: { ...props.processes, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['id'] },
    },
  };
}

/** The CustomResourceDefinition of ProcessSet (deploy/crd.yaml is this, rendered). */
export function processSetCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PROCESSSET_PLURAL}.${PROCESSSET_GROUP}` },
    spec: {
      group: PROCESSSET_GROUP,
      names: {
        kind: PROCESSSET_KIND,
        listKind: `${PROCESSSET_KIND}List`,
        plural: PROCESSSET_PLURAL,
        singular: PROCESSSET_SINGULAR,
        shortNames: [...PROCESSSET_SHORT_NAMES],
        categories: ['procmgr'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: PROCESSSET_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            // As `kubectl get pods`: READY is ready/total, STATUS the one word that matters most.
            { name: 'Ready', type: 'string', jsonPath: '.status.readyProcesses' },
            { name: 'Status', type: 'string', jsonPath: '.status.summary' },
            { name: 'Generation', type: 'integer', jsonPath: '.metadata.generation', priority: 1 },
            { name: 'Observed', type: 'integer', jsonPath: '.status.observedGeneration', priority: 1 },
            { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', priority: 1 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'Processes a procmgr sidecar keeps running in its pod, like a kubelet for processes.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: specSchema(),
                status: statusSchema(),
              },
            },
          },
        },
      ],
    },
  };
}
