import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/supervisor/proc.js';
import { eventually } from '../helpers/daemon.js';
import { kubeCluster, kubectlAdmin, type KubeCluster } from '../helpers/kube.js';
import { NODE } from '../helpers/supervised.js';

let cluster: KubeCluster;
const NS = `procmgr-loop-${process.pid}`;
const EXAMPLE = fileURLToPath(new URL('../../examples/controller-loop.ts', import.meta.url));

const kubectl = (args: readonly string[], input?: string): Promise<string> => kubectlAdmin(cluster, args, input);

const configMap = (name: string, args: string[]): string =>
  JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS, labels: { 'procmgr.dev/process': 'true' } }, data: { command: 'sleep', args: JSON.stringify(args) } });

beforeAll(async () => {
  cluster = await kubeCluster();
  await kubectl(['create', 'namespace', NS]);
});
afterAll(async () => {
  await kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
});

describe('examples/controller-loop.ts: a user\'s own informer loop driving syncKnownProcesses', () => {
  it('starts, updates and stops processes as ConfigMaps come, change and go', async () => {
    await kubectl(['apply', '-f', '-'], configMap('one', ['1000']));
    const child = spawn(NODE, ['--import', 'tsx', EXAMPLE], { env: { ...process.env, KUBECONFIG: cluster.kubeconfig, NAMESPACE: NS }, stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const pidOf = (id: string, nth = 1): number | undefined => {
        const found = lines.filter((l) => l.startsWith(`started ${id} `));
        return found.length >= nth ? Number(found[nth - 1]?.split(' ')[2]) : undefined;
      };
      const one = await eventually('one started', () => Promise.resolve(pidOf('one')), 30_000);
      await kubectl(['apply', '-f', '-'], configMap('two', ['1001']));
      const two = await eventually('two started', () => Promise.resolve(pidOf('two')));
      await kubectl(['apply', '-f', '-'], configMap('one', ['1002'])); // changed spec: restarted
      const oneAgain = await eventually('one restarted', () => Promise.resolve(pidOf('one', 2)));
      expect(oneAgain).not.toBe(one);
      expect(isAlive(one)).toBe(false);
      await kubectl(['delete', 'configmap', 'two', '-n', NS]);
      await eventually('two stopped', () => Promise.resolve(!isAlive(two)));
      expect(isAlive(oneAgain)).toBe(true);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(isAlive(oneAgain)).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
