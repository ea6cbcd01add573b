import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, MAX_CONFIG_BYTES, MAX_PROBLEMS, parseConfigText, parseProcessList, readConfigText } from '../../../src/config/index.js';
import { tempDir } from '../../helpers/supervised.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function file(text: string | Buffer): string {
  const d = tempDir('procmgr-bounds-');
  dirs.push(d);
  const f = join(d, 'procmgr.yaml');
  writeFileSync(f, text);
  return f;
}

describe('what a config may cost', () => {
  it('reads at most 1 MiB of a file, with an error naming it', async () => {
    const ok = file(`processes: []\n#${'x'.repeat(MAX_CONFIG_BYTES - 20)}\n`);
    expect((await readConfigText(ok)).length).toBeLessThanOrEqual(MAX_CONFIG_BYTES);
    const big = file(Buffer.alloc(MAX_CONFIG_BYTES + 1, 0x20));
    const err = await readConfigText(big).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toMatchObject([{ path: big }]);
    expect((err as ConfigError).problems[0]?.message).toMatch(/larger than 1048576 bytes \(1 MiB\)/);
    await expect(readConfigText(join(dirs[0]!, 'nope.yaml'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('keeps the first 100 problems of thousands, names ten in its message, and counts them all', () => {
    const list = Array.from({ length: 5_000 }, (_, i) => ({ id: `p${i}`, command: 5 }));
    const err = (() => {
      try {
        parseProcessList(list);
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(err.total).toBe(5_000);
    expect(err.problems).toHaveLength(MAX_PROBLEMS);
    expect(err.details).toMatchObject({ total: 5_000 });
    expect(err.message.length).toBeLessThan(2_000);
    expect(err.message).toMatch(/… \(5000 problems in all\)$/);
    expect(JSON.stringify(err.details).length).toBeLessThan(20_000);
  });

  it('parses JSON with JSON.parse, and hands broken JSON to the YAML parser for its position', () => {
    expect(parseConfigText('{"processes": []}', 'f')).toEqual({ processes: [] });
    expect(parseConfigText('{ processes: [] }', 'f')).toEqual({ processes: [] }); // YAML flow style
    expect(() => parseConfigText('{"processes": [}', 'f')).toThrow(/f:1:/);
  });
});
