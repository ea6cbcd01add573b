import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderProcessSpecDoc } from '../../../hack/docs-content.js';

describe('generated docs', () => {
  it('docs/process-spec.md matches the schema (run `npm run docs` after changing it)', () => {
    const committed = readFileSync(new URL('../../../docs/process-spec.md', import.meta.url), 'utf8');
    expect(committed).toBe(renderProcessSpecDoc());
  });

  it('names every top-level field with its default', () => {
    const doc = renderProcessSpecDoc();
    expect(doc).toContain('| `stopGracePeriod` | duration | `"10s"` |');
    expect(doc).toContain('| `restart.breaker.cooldown` | duration | `"5m"` |');
    expect(doc).toContain('| `probes.<startup\\|liveness\\|readiness>.http.port` | integer | required |');
    expect(doc).toContain('| `stopSignal` | string | `"SIGTERM"` |');
  });
});
