import { readFile } from 'node:fs/promises';
import { SpawnError } from './errors.js';

/**
 * User and group names resolved from /etc/passwd and /etc/group. Node has no getpwnam; these
 * files are what it reads on a plain Linux system (no NSS lookups such as LDAP).
 */

interface Entry {
  readonly name: string;
  readonly id: number;
  readonly gid: number;
}

async function readTable(path: string): Promise<Entry[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return [];
  }
  const out: Entry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || f[0] === undefined || f[0].startsWith('#')) continue;
    // passwd: name:x:uid:gid:…  group: name:x:gid:members
    out.push({ name: f[0], id: Number(f[2]), gid: Number(f[3] ?? f[2]) });
  }
  return out;
}

/** uid and gid to spawn with; throws `SpawnError` naming the unknown user or group. */
export async function resolveUser(
  user: string | number,
  group: string | number | undefined,
): Promise<{ uid: number; gid: number }> {
  const passwd = await readTable('/etc/passwd');
  const u = typeof user === 'number' ? passwd.find((e) => e.id === user) : passwd.find((e) => e.name === user);
  if (!u && typeof user === 'string') throw new SpawnError('UNKNOWN_USER', `user: no user named "${user}" in /etc/passwd`, { details: { user } });
  const uid = u?.id ?? (user as number);
  if (group === undefined) {
    if (u) return { uid, gid: u.gid };
    throw new SpawnError('UNKNOWN_USER', `user: uid ${String(user)} has no /etc/passwd entry, so its group is unknown; set group too`, { details: { user } });
  }
  if (typeof group === 'number') return { uid, gid: group };
  const g = (await readTable('/etc/group')).find((e) => e.name === group);
  if (!g) throw new SpawnError('UNKNOWN_GROUP', `group: no group named "${group}" in /etc/group`, { details: { group } });
  return { uid, gid: g.id };
}
