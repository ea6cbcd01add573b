// A background worker for examples/procmgr.yaml: a line every 2 s, a clean exit on SIGTERM.
// CommonJS like web.cjs.
'use strict';
const { clearInterval, setInterval } = require('node:timers');

let tick = 0;
const timer = setInterval(() => {
  tick++;
  console.log(`worker: tick ${tick}`);
}, 2_000);

process.once('SIGTERM', () => {
  clearInterval(timer);
  console.log(`worker: SIGTERM after ${tick} ticks, exiting`);
});
