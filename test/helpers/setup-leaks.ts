import { afterAll, expect } from 'vitest';
import { realClock, sleep } from '../../src/util/index.js';
import { markedPids, reapLeaks, testMark } from './leaks.js';

// Marks every process this test file starts; after the file, none may still be alive.
testMark();

afterAll(async () => {
  // Processes killed a moment ago may still be on their way out.
  for (let i = 0; i < 50 && markedPids().length > 0; i++) await sleep(realClock, 20);
  expect(reapLeaks(), 'processes left behind by this test file').toEqual([]);
});
