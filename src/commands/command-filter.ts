/**
 * Command filter: regex rules from a grant, checked against the command line the user is about to
 * submit (CommandTracker.currentLine() at Enter).
 *
 * Semantics, chosen so that rule order can never weaken a deny:
 *  - a pattern is searched anywhere in the line (JavaScript RegExp, no flags); anchor it
 *    yourself. The line is what the user typed, so `ls; rm -rf /` is one line: a rule meant for
 *    any command in a list should allow a separator before it, e.g. `(^|[;&|]\s*)rm\s+-rf`;
 *  - every deny rule is tried before any warn rule; the first matching deny wins, else the first
 *    matching warn, else allow.
 * Compilation happens once (config validation calls it too, so a bad pattern fails at start-up
 * with the rule's index in the message); check() is then a plain loop over compiled RegExps.
 */

import type { CommandRule } from '../config-fields.js';

export type Rule = CommandRule;

const compiled = new WeakMap<readonly Rule[], CommandFilter>();

/** The filter of one grant's rule list, compiled the first time it is asked for (config
 *  validation asks at load), then shared by every channel that grant serves. */
export function filterFor(rules: readonly Rule[]): CommandFilter {
  let filter = compiled.get(rules);
  if (!filter) compiled.set(rules, (filter = compileRules(rules)));
  return filter;
}

/** Identifies the rule that matched, for the audit log and the user's message. */
export interface MatchedRule {
  /** Position in the configured list. */
  index: number;
  pattern: string;
}

export type FilterResult =
  | { action: 'allow' }
  | { action: 'deny'; message: string; rule: MatchedRule }
  | { action: 'warn'; message?: string; rule: MatchedRule };

export interface CommandFilter {
  check(line: string): FilterResult;
}

interface Compiled {
  re: RegExp;
  rule: MatchedRule;
  message: string | undefined;
}

export const DEFAULT_DENY_MESSAGE = 'command denied by policy';

export function compileRules(rules: readonly Rule[]): CommandFilter {
  const deny: Compiled[] = [];
  const warn: Compiled[] = [];
  rules.forEach((r, index) => {
    const { kind, pattern } = ruleShape(r, index);
    let re: RegExp;
    try {
      re = new RegExp(pattern);
    } catch (err) {
      throw new Error(`rule ${index} (${kind} ${JSON.stringify(pattern)}): ${(err as Error).message}`);
    }
    (kind === 'deny' ? deny : warn).push({ re, rule: { index, pattern }, message: r.message });
  });

  return {
    check(line: string): FilterResult {
      for (const c of deny) {
        if (c.re.test(line)) return { action: 'deny', message: c.message ?? DEFAULT_DENY_MESSAGE, rule: c.rule };
      }
      for (const c of warn) {
        if (c.re.test(line)) {
          return c.message === undefined ? { action: 'warn', rule: c.rule } : { action: 'warn', message: c.message, rule: c.rule };
        }
      }
      return { action: 'allow' };
    },
  };
}

/** Config may come from YAML: check the shape at run time as well as in the type. */
function ruleShape(r: Rule, index: number): { kind: 'deny' | 'warn'; pattern: string } {
  const hasDeny = 'deny' in r;
  const hasWarn = 'warn' in r;
  if (hasDeny === hasWarn) throw new Error(`rule ${index}: needs exactly one of "deny" or "warn"`);
  const pattern: unknown = hasDeny ? r.deny : (r as { warn: unknown }).warn;
  if (typeof pattern !== 'string') throw new Error(`rule ${index}: pattern must be a string`);
  if (r.message !== undefined && typeof r.message !== 'string') throw new Error(`rule ${index}: message must be a string`);
  return { kind: hasDeny ? 'deny' : 'warn', pattern };
}
