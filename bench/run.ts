/**
 * `npm run bench`: Warden against direct OpenSSH (and OpenSSH ProxyJump), measured in the same
 * run with the paths interleaved, printed as a Markdown table and written to bench/results.md.
 *
 *   npm run bench -- --quick                      smaller sizes and counts (smoke run)
 *   npm run bench -- --only throughput,keystroke  a subset, in the given order
 *   npm run bench -- --wait-quiet 300             first wait (up to 300 s) for other load to stop
 *   npm run bench -- --warden-yaml 'recording: { enabled: false }'   a Warden config variant
 *   npm run bench -- --mib 256                    size of the rows issue 12 names: text and binary down,
 *                                                 binary up (default 512; --quick 32); every other
 *                                                 transfer is at most 128 MiB
 *
 * Only a full run (every measurement, shipped config: no --quick, --only or --warden-yaml)
 * writes bench/results.md and regenerates the README's table from it; any other run writes
 * .bench/results-partial.md. The transfer size is in every throughput row's label.
 *
 * The machine may be shared (other engineers' test runs): the report states how much CPU
 * processes outside the benchmark used during each measurement.
 *
 * This is a benchmark, not a test: it exits 0 when targets are missed (the table says so)
 * and non-zero only when a measurement could not be made.
 */
import { setMaxListeners } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { idleRss } from './idle-rss.js';
import { keystroke } from './keystroke.js';
import { machineInfo, sanityChecks } from './environment.js';
import { startLoadMeter } from './proc-stats.js';
import { describeLoad, waitOwnIdle, waitQuiet } from './quiet.js';
import { markdownTable, renderReport, type Section } from './report.js';
import { setupBench, Teardown } from './setup.js';
import { setupTime } from './setup-time.js';
import { throughput } from './throughput.js';
import { sftpTransfer } from './sftp-transfer.js';
import { recordingCost } from './recording-cost.js';
import { killLatency } from './kill-latency.js';
import { idleLateness } from './idle-lateness.js';
import { instanceLoss } from './instance-loss.js';
import { watch } from './watch.js';
import { workers } from './workers.js';
import { README, updateReadme } from './readme-table.js';
import type { BenchContext, Measurement, Row } from './types.js';

/** Every measurement, in the default order. Add new modules here. */
export const MEASUREMENTS: readonly Measurement[] = [throughput, sftpTransfer, keystroke, setupTime, idleRss, recordingCost, killLatency, idleLateness, instanceLoss, watch, workers];

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const RESULTS = path.join(BENCH_DIR, 'results.md');
const PARTIAL = path.join(BENCH_DIR, '..', '.bench', 'results-partial.md');
const DEFAULT_MIB = 512;
const QUICK_MIB = 32;

const loadAverage = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

function usage(): string {
  return [
    'usage: npm run bench -- [--quick] [--only NAME,...] [--wait-quiet SECONDS] [--warden-yaml YAML] [--mib N]',
    `measurements: ${MEASUREMENTS.map((m) => m.name).join(', ')}`,
  ].join('\n');
}

function selectMeasurements(only: string | undefined): Measurement[] {
  if (!only) return [...MEASUREMENTS];
  const names = only.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !MEASUREMENTS.some((m) => m.name === n));
  if (unknown.length) throw new Error(`unknown measurement(s): ${unknown.join(', ')}\n${usage()}`);
  return names.map((n) => MEASUREMENTS.find((m) => m.name === n)!);
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'wait-quiet': { type: 'string', default: '0' },
      'warden-yaml': { type: 'string', default: '' },
      mib: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage());
    return 0;
  }
  const selected = selectMeasurements(values.only);
  const quick = values.quick ?? false;
  const mib = values.mib !== undefined ? Number(values.mib) : quick ? QUICK_MIB : DEFAULT_MIB;
  if (!Number.isInteger(mib) || mib < 1) throw new Error(`--mib: a whole number of MiB, got ${values.mib}\n${usage()}`);
  const full = !quick && !values.only && !values['warden-yaml'];
  const loadBefore = loadAverage();
  const started = performance.now();
  const progress = (m: string) => process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${m}\n`);

  const teardown = new Teardown();
  const abort = new AbortController();
  // Every live ssh client listens for an abort (hundreds in the kill and idle measurements).
  setMaxListeners(0, abort.signal);
  let interrupted = false;
  let firstSignalAt = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    // tsx forwards the terminal's SIGINT to us as well: a repeat within 2 s is that echo.
    if (interrupted && performance.now() - firstSignalAt < 2000) return;
    if (interrupted) {
      process.stderr.write(`\n${sig} again: exiting now (leftover processes are SIGKILLed on exit)\n`);
      process.exit(130);
    }
    interrupted = true;
    firstSignalAt = performance.now();
    process.stderr.write(`\n${sig}: stopping and cleaning up...\n`);
    abort.abort();
    const force = setTimeout(() => process.exit(130), 15_000);
    void teardown.run().finally(() => {
      clearTimeout(force);
      // The harness' exit hook SIGKILLs anything still tracked and removes tracked temp dirs.
      process.exit(130);
    });
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  // A stray rejection in a measurement must not kill the run (and its table) at the end.
  process.on('unhandledRejection', (err) => progress(`unhandled rejection (ignored): ${err instanceof Error ? err.message : String(err)}`));

  const rows: Row[] = [];
  const sections: Section[] = [];
  let failed = false;
  try {
    const machine = machineInfo();
    for (const l of machine) progress(l);
    const env = await setupBench(teardown, progress, { wardenYaml: values['warden-yaml'], textBytes: mib * 1048576 });
    const checks = await sanityChecks(env);
    for (const l of [...checks.lines, ...checks.problems.map((p) => `PROBLEM: ${p}`)]) progress(l);
    const quietBudget = Number(values['wait-quiet']) || 0;
    let waitedQuiet = 0;
    let waitedOwn = 0;
    const ctx: BenchContext = {
      env,
      quick,
      reps: quick ? 2 : 5,
      signal: abort.signal,
      progress,
      settle: async () => {
        waitedOwn += await waitOwnIdle(120, abort.signal);
        if (quietBudget > 0) waitedQuiet += (await waitQuiet(quietBudget, 1500, abort.signal, progress)).waitedSeconds;
      },
    };
    const before = await waitQuiet(quietBudget, 3000, abort.signal, progress);
    checks.lines.push(`load from other processes before the measurements: ${describeLoad(before.share)}`);

    for (const m of selected) {
      if (interrupted) break;
      progress(`== ${m.title}`);
      const t0 = performance.now();
      const load = startLoadMeter();
      try {
        const result = await m.run(ctx);
        rows.push(...result.rows);
        const others = `other processes used ${(load.foreign() * 100).toFixed(0)}% of the machine's CPU during this measurement`;
        progress(others);
        sections.push({ title: m.title, seconds: (performance.now() - t0) / 1000, notes: [...(result.notes ?? []), others] });
      } catch (err) {
        if (interrupted) break;
        failed = true;
        const message = (err as Error).message;
        progress(`${m.name} FAILED: ${message}`);
        rows.push({ metric: `${m.name}: FAILED`, ratio: message.split('\n')[0]!.slice(0, 120), ok: false });
        sections.push({ title: m.title, seconds: (performance.now() - t0) / 1000, notes: [`failed: ${message}`, `warden log tail: ${env.warden.log().split('\n').slice(-5).join(' ⏎ ')}`] });
      }
    }
    if (interrupted) return 130;

    const totalSeconds = (performance.now() - started) / 1000;
    checks.lines.push(`waited ${waitedOwn.toFixed(0)} s in total for the benchmark's own processes to go idle before runs (e.g. Warden finalizing a recording)`);
    if (quietBudget > 0) checks.lines.push(`waited ${waitedQuiet.toFixed(0)} s in total for other processes to go quiet (--wait-quiet ${quietBudget})`);
    machine.push(
      `load average (1/5/15 min) at the start: ${loadBefore}; at the end: ${loadAverage()}. The machine is shared with other agents running test suites: ` +
        'each section says how much CPU other processes took during it.',
    );
    const report = renderReport({
      machine,
      checks: [...checks.lines, ...checks.problems.map((p) => `**PROBLEM:** ${p}`)],
      rows,
      sections,
      totalSeconds,
      args: argv.join(' '),
    });
    // Only a complete run of the shipped configuration may stand as "the" results.
    const out = full && !failed ? RESULTS : PARTIAL;
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, report);
    if (out === RESULTS) updateReadme(RESULTS, README);
    console.log(
      `\n${machine.join('\n')}\n\n${markdownTable(rows)}\n\n(${totalSeconds.toFixed(0)} s; details in ${path.relative(process.cwd(), out)}` +
        `${out === RESULTS ? '; README table regenerated' : `; not a full run${failed ? ' (a measurement failed)' : ''}, so bench/results.md and the README are unchanged`})`,
    );
    return failed ? 1 : 0;
  } finally {
    if (!interrupted) await teardown.run();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
    // Sockets of closed ssh2 clients may linger a moment; nothing else should keep us alive.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
