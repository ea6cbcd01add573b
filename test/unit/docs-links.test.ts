import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every relative link of the user-facing docs points at a file of this repository, and a `#anchor`
// into a markdown file at one of its headings: moving a page or renaming a heading breaks a test,
// not a reader's click.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The pages checked: the README, docs/, and the READMEs they send readers on to. */
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
  'deploy/README.md',
  'hack/kube/README.md',
  'hack/docker/README.md',
];

/** The text outside fenced code blocks and inline code, where a `[x](y)` is a link. */
function prose(markdown: string): string {
  return markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
    .replace(/`+[^`\n]*`+/g, (code) => code.replace(/[[\]()]/g, ' '));
}

/** Link targets of a page, as written (`![]()` images included). */
function linkTargets(markdown: string): string[] {
  const targets: string[] = [];
  for (const m of prose(markdown).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(m[1] ?? '');
  return targets;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  const text = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '').replace(/\s/g, '-');
}

/** The anchors of a page's headings (a repeated heading gets `-1`, `-2`…, as on GitHub). */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const m of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(m[1] ?? '');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    result.add(n === 0 ? base : `${base}-${n}`);
  }
  return result;
}

const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

/** What is wrong with one link of `page`, or undefined. */
function brokenLink(page: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return undefined;
  const hash = target.indexOf('#');
  const path = hash < 0 ? target : target.slice(0, hash);
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const file = path === '' ? page : relative(ROOT, join(ROOT, dirname(page), decodeURIComponent(path)));
  if (file.startsWith('..') || !existsSync(join(ROOT, file))) return `${target}: ${file} does not exist`;
  if (anchor === undefined || !file.endsWith('.md') || statSync(join(ROOT, file)).isDirectory()) return undefined;
  return anchors(read(file)).has(anchor) ? undefined : `${target}: ${file} has no heading #${anchor}`;
}

describe('links in the docs', () => {
  it.each(PAGES)('%s: every relative link resolves', (page) => {
    const targets = linkTargets(read(page));
    const broken = targets.map((t) => brokenLink(page, t)).filter((b) => b !== undefined);
    expect(broken).toEqual([]);
  });

  it('the README links to every page of docs/', () => {
    const linked = new Set(linkTargets(read('README.md')).map((t) => t.split('#')[0]));
    const pages = PAGES.filter((p) => p.startsWith('docs/'));
    expect(pages.filter((p) => !linked.has(p))).toEqual([]);
  });
});

describe('the link checker itself', () => {
  it.each([
    ['The daemon: `procmgr run`', 'the-daemon-procmgr-run'],
    ['Options (`new ProcessManager(options)`)', 'options-new-processmanageroptions'],
    ['1. The CRD: once per cluster, as a cluster admin', '1-the-crd-once-per-cluster-as-a-cluster-admin'],
    ['Peers (PM2, supervisord)', 'peers-pm2-supervisord'],
    ['`processes[]`', 'processes'],
    ['Über grüße', 'über-grüße'],
  ])('slug(%j) is %j', (heading, expected) => {
    expect(slug(heading)).toBe(expected);
  });

  it('counts repeated headings and ignores headings and links inside code', () => {
    const md = '# A\n## A\n```sh\n# not a heading\necho [x](nowhere.md)\n```\nsee `[y](nowhere.md)` and [z](here.md#a-1)\n';
    expect([...anchors(md)]).toEqual(['a', 'a-1']);
    expect(linkTargets(md)).toEqual(['here.md#a-1']);
  });

  it('finds a broken file and a broken anchor', () => {
    expect(brokenLink('README.md', 'docs/nope.md')).toMatch(/does not exist/);
    expect(brokenLink('README.md', 'docs/cli.md#no-such-heading')).toMatch(/no heading/);
    expect(brokenLink('docs/cli.md', '../README.md#quick-start')).toBeUndefined();
    expect(brokenLink('README.md', 'https://example.com/x.md#y')).toBeUndefined();
  });
});
