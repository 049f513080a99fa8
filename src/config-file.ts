/**
 * Reading a config file: `${VAR}` expansion, YAML, and validation errors that name the key path
 * ("grants[0].assets[1]: unknown asset \"web2\""). Shared by the full config (config.ts) and the
 * CLI's connection-only reading of the same file (config-connection.ts).
 */
import { readFileSync } from 'node:fs';
import { CORE_SCHEMA, load as loadYaml, YAMLException } from 'js-yaml';
import { WardenError } from './errors.js';
import type * as z from './zod.js';

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('') || '(top level)';
}

/**
 * `${NAME}` and `${NAME:-default}` are replaced from the environment before parsing, so
 * secrets and per-host values can stay out of the file. An unset variable without a default
 * is an error naming it and its line.
 */
export function expandEnv(text: string, env: NodeJS.ProcessEnv = process.env, file?: string): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (match, name: string, fallback: string | undefined, offset: number) => {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    if (fallback !== undefined) return fallback;
    const line = text.slice(0, offset).split('\n').length;
    throw new WardenError('CONFIG_INVALID', `${file ? `${file}: ` : ''}line ${line}: environment variable ${name} is not set (write \${${name}:-default} for a default)`);
  });
}

export function readConfigText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new WardenError('CONFIG_UNREADABLE', `${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Expand, parse and validate `text` (from `file`, named in errors) against `schema`. */
export function parseConfigText<S extends z.ZodMiniType>(schema: S, text: string, file: string): z.output<S> {
  const expanded = expandEnv(text, process.env, file);
  let raw: unknown;
  try {
    // YAML 1.2's core schema: no merge keys, no timestamps or other YAML 1.1 types.
    raw = loadYaml(expanded, { schema: CORE_SCHEMA });
  } catch (err) {
    // Where and what, without js-yaml's excerpt of the file: that shows the text after
    // `${VAR}` expansion, which may be a secret.
    const where = err instanceof YAMLException && err.mark ? `line ${err.mark.line + 1}, column ${err.mark.column + 1}: ${err.reason}` : (err as Error).message;
    throw new WardenError('CONFIG_INVALID', `${file}: YAML syntax: ${where}`);
  }
  // jitless: zod would otherwise compile a parser per object schema with `new Function` on the
  // first parse, which for a file parsed once per process (a cold `warden kill`) is pure cost
  // (~6 ms), and is an eval the process does not need.
  const result = schema.safeParse(raw ?? {}, { jitless: true });
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
    throw new WardenError('CONFIG_INVALID', `${file}:\n  ${lines.join('\n  ')}`);
  }
  return result.data;
}
