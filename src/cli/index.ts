export { main } from './main.js';
export { EXIT, EXAMPLE_CONFIG } from './run.js';
export { formatDuration, statusTable, table } from './format.js';
