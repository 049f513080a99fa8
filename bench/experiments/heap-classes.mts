/**
 * Self sizes of a V8 heap snapshot (.heapsnapshot, as written by --heapsnapshot-signal), summed
 * per constructor / closure name, to compare two snapshots of the same process (per-session
 * cost = difference / sessions).
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export type ClassSizes = Map<string, { bytes: number; count: number }>;

export function classSizes(file: string): ClassSizes {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = fields.length;
  const [fType, fName, fSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const out: ClassSizes = new Map();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + fType]!]!;
    const name = s.strings[s.nodes[i + fName]!]!;
    const size = s.nodes[i + fSize]!;
    let key: string;
    if (type === 'object' || type === 'native') key = `${type === 'native' ? 'native ' : ''}${name.length > 60 ? `${name.slice(0, 60)}…` : name}`;
    else if (type === 'closure') key = `closure ${name || '(anonymous)'}`;
    else if (type === 'hidden' || type === 'object shape') key = `(${type}) ${name.slice(0, 40)}`;
    else key = `(${type})`;
    const e = out.get(key) ?? { bytes: 0, count: 0 };
    e.bytes += size;
    e.count++;
    out.set(key, e);
  }
  return out;
}

export function total(c: ClassSizes): number {
  let t = 0;
  for (const v of c.values()) t += v.bytes;
  return t;
}

/** The `top` classes that grew most from `a` to `b`, per session. */
export function growth(a: ClassSizes, b: ClassSizes, sessions: number, top = 40): string[] {
  const rows: Array<{ key: string; bytes: number; count: number }> = [];
  for (const [key, v] of b) {
    const before = a.get(key) ?? { bytes: 0, count: 0 };
    rows.push({ key, bytes: (v.bytes - before.bytes) / sessions, count: (v.count - before.count) / sessions });
  }
  rows.sort((x, y) => y.bytes - x.bytes);
  return rows.slice(0, top).map((r) => `${(r.bytes / 1024).toFixed(2).padStart(7)} KiB ${r.count.toFixed(1).padStart(6)} ×  ${r.key}`);
}
