/** The HTTP API: server, routes, auth, metrics and the CLI's client. */
// ProcessInfo is the supervisor's; re-exported because it is what the client's calls return.
export type { ApiBackend, ProcessInfo, ApplyResult, HealthInfo } from './backend.js';
export { createApiServer, type ApiServer, type ApiServerOptions } from './server.js';
// Not createMetrics itself: loading it loads prom-client, which only a running daemon needs.
export { importMetrics } from './load-metrics.js';
export type { Metrics, MetricsOptions } from './metrics.js';
export { findTokenFile, generateToken, removeTokenFile, tokenDirs, tokenFileName, writeTokenFile } from './token-file.js';
export { createApiClient, type ApiClient, type ApiClientOptions, type CallOptions, type HealthResponse } from './client.js';
export { ApiError, ListenError, toHttpError, type ApiErrorCode, type ErrorBody, type HttpError } from './errors.js';
export { authorize, bearerMatches, type AuthDecision, type AuthInput } from './auth.js';
export { parseListen, formatAddress, isLocalOnly, type ListenAddress } from './listen.js';
export { FOLLOW_BUFFER_LIMIT_BYTES } from './logs-route.js';
export type { ProcessAction } from './routes.js';
