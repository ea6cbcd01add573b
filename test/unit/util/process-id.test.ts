import { describe, expect, it } from 'vitest';
import { processIdSchema } from '../../../src/config/index.js';
import { isProcessId } from '../../../src/util/index.js';

describe('the process id rule', () => {
  it.each<[string, unknown, boolean]>([
    ['1 char', 'a', true],
    ['253 chars', 'x'.repeat(253), true],
    ['254 chars', 'x'.repeat(254), false],
    ['unicode', 'wéb-服务-🚀', true],
    ['a lone surrogate', 'w\ud800', false],
    ['empty', '', false],
    ['whitespace', 'a b', false],
    ['a control character', 'a\u0007', false],
    ['not a string', 42, false],
  ])('%s', (_name, id, ok) => {
    expect(isProcessId(id)).toBe(ok);
    // The config schema (and the CRD made from it) applies the same rule.
    expect(processIdSchema.safeParse(id).success).toBe(ok);
  });
});
