export {
  PROCESSSET_API_VERSION,
  PROCESSSET_GROUP,
  PROCESSSET_KIND,
  PROCESSSET_PLURAL,
  PROCESSSET_SHORT_NAMES,
  PROCESSSET_SINGULAR,
  PROCESSSET_VERSION,
  processSetCrd,
  processSetStatusSchema,
  type ProcessSetCondition,
  type ProcessSetProcessStatus,
  type ProcessSetStatus,
} from './crd.js';
export { toStructuralSchema, type JsonSchema } from './structural.js';
export { ProcessSetSource, type ProcessSetSourceOptions, type SourceComponent, type SourceHost } from './processset-source.js';
export { ProcessSetWatchLoop, type WatchLoopOptions } from './watch-loop.js';
export { StatusWriter, buildStatus, type Condition, type StatusInput, type StatusWriterOptions } from './status.js';
export { EventRecorder, type EventRecorderOptions } from './events.js';
export {
  API_ERROR_MAX_CHARS,
  PS,
  apiErrorFields,
  clientNodeApi,
  configMapApi,
  configMapAsProcessSet,
  loadKubeConfig,
  describeApiError,
  statusOf,
  type ApiErrorSummary,
  type EventBody,
  type InvolvedObject,
  type ProcessSetApi,
  type ProcessSetObject,
  type WatchEvent,
} from './api.js';
