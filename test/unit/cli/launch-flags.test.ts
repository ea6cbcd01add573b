import { describe, expect, it } from 'vitest';
import { imageNodeFlags, shebangFlags, startScriptFlags } from '../../../hack/launch-flags.js';

describe('the daemon\'s Node flags', () => {
  it('are the same for `procmgr` on PATH, `npm start` and the image', () => {
    const image = imageNodeFlags();
    expect(image).toEqual(['--max-semi-space-size=1', '--no-concurrent-recompilation']);
    expect(shebangFlags()).toEqual(image);
    expect(startScriptFlags()).toEqual(image);
  });
});
