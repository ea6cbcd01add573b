import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderCliReference, renderConfigDoc, renderConfigJsonSchema, renderCrdYaml, renderProcessSpecDoc, replaceBlock } from '../../../hack/docs-content.js';

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

  it('docs/cli.md carries the current commands, options and defaults', () => {
    const cli = committed('docs/cli.md');
    expect(replaceBlock(cli, 'cli-reference', renderCliReference())).toBe(cli);
    for (const name of ['run', 'validate', 'sidecar', 'status', 'restart', 'stop', 'start', 'logs']) expect(cli).toContain(`### \`procmgr ${name}\``);
  });

  it('the CLI reference shows built-in defaults, not those of the shell that renders it', () => {
    const saved = process.env.PROCMGR_API;
    process.env.PROCMGR_API = 'unix:/from/the/shell.sock';
    try {
      const doc = renderCliReference();
      expect(doc).not.toContain('/from/the/shell.sock');
      expect(doc).toContain('| `--api <address>` | `127.0.0.1:7070` |');
      expect(process.env.PROCMGR_API).toBe('unix:/from/the/shell.sock');
    } finally {
      if (saved === undefined) delete process.env.PROCMGR_API;
      else process.env.PROCMGR_API = saved;
    }
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
