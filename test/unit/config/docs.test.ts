import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderConfigDoc, renderConfigJsonSchema, renderCrdYaml, renderProcessSpecDoc, renderReadmeConfigTable, replaceBlock } from '../../../hack/docs-content.js';

const committed = (path: string): string => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');

describe('generated docs', () => {
  // Run `npm run docs` after changing a schema.
  it.each([
    ['docs/process-spec.md', renderProcessSpecDoc],
    ['docs/config.md', renderConfigDoc],
    ['schema/procmgr.schema.json', renderConfigJsonSchema],
    ['deploy/crd.yaml', renderCrdYaml],
  ])('%s matches the schema', (path, render) => {
    expect(committed(path)).toBe(render());
  });

  it('README.md carries the current config table', () => {
    const readme = committed('README.md');
    expect(replaceBlock(readme, 'config-table', renderReadmeConfigTable())).toBe(readme);
  });

  it('names every top-level field with its default', () => {
    const doc = renderProcessSpecDoc();
    expect(doc).toContain('| `stopGracePeriod` | duration | `"10s"` |');
    expect(doc).toContain('| `restart.breaker.cooldown` | duration | `"5m"` |');
    expect(doc).toContain('| `probes.<startup\\|liveness\\|readiness>.http.port` | integer | required |');
    expect(doc).toContain('| `stopSignal` | string | `"SIGTERM"` |');
  });

  it('documents the config file sections with their defaults', () => {
    const doc = renderConfigDoc();
    expect(doc).toContain('| `api.listen` | string | `"127.0.0.1:7070"` |');
    expect(doc).toContain('| `engine.resyncInterval` | duration | `"30s"` |');
    expect(doc).toContain('| `id` | string | required |');
    expect(doc).toContain('| `dependsOn` |');
  });

  it('the JSON Schema is strict and identifies itself', () => {
    const schema = JSON.parse(renderConfigJsonSchema()) as Record<string, unknown>;
    expect(schema).toMatchObject({ $schema: 'https://json-schema.org/draft/2020-12/schema', $id: 'urn:procmgr:schema:config', title: 'procmgr config file', additionalProperties: false });
  });
});
