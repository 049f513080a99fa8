/**
 * The shape of the code, checked: machines stay pure, zod comes from one module, src/ has no
 * import cycle, and no module grows past the size the house style asks for (DESIGN.md: small
 * modules, one concept each).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/redis.js';

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return tsFiles(file);
    return name.endsWith('.ts') ? [file] : [];
  });
}

/** Module specifiers of static imports and re-exports (type-only ones included). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

const rel = (file: string) => path.relative(REPO_ROOT, file);

describe('architecture', () => {
  it('machines/ imports nothing but xstate and its own modules', () => {
    const offenders = tsFiles(path.join(REPO_ROOT, 'machines')).flatMap((file) =>
      importsOf(file)
        .filter((spec) => spec !== 'xstate' && !/^\.\/[\w.-]+\.js$/.test(spec))
        .map((spec) => `${rel(file)} imports ${spec}`),
    );
    expect(offenders).toEqual([]);
  });

  it('src/ takes zod from src/zod.ts only (zod/mini with its English messages)', () => {
    const zodModule = path.join(REPO_ROOT, 'src', 'zod.ts');
    const offenders = tsFiles(path.join(REPO_ROOT, 'src'))
      .filter((file) => file !== zodModule)
      .flatMap((file) => importsOf(file).filter((spec) => spec === 'zod' || spec.startsWith('zod/')).map((spec) => `${rel(file)} imports ${spec}`));
    expect(offenders).toEqual([]);
  });

  it('src/ has no import cycle', () => {
    const files = tsFiles(path.join(REPO_ROOT, 'src'));
    const graph = new Map(
      files.map((file) => [
        file,
        importsOf(file)
          .filter((spec) => spec.startsWith('.'))
          .map((spec) => path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts'))
          .filter((dep) => dep.startsWith(path.join(REPO_ROOT, 'src'))),
      ]),
    );
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (file: string, trail: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        cycles.push([...trail.slice(trail.indexOf(file)), file].map(rel).join(' → '));
        return;
      }
      state.set(file, 'visiting');
      for (const dep of graph.get(file) ?? []) visit(dep, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('no module in src/ or machines/ is over 300 lines', () => {
    const big = ['src', 'machines']
      .flatMap((d) => tsFiles(path.join(REPO_ROOT, d)))
      .map((file) => ({ file: rel(file), lines: readFileSync(file, 'utf8').split('\n').length - 1 }))
      .filter((f) => f.lines > 300);
    expect(big).toEqual([]);
  });
});
