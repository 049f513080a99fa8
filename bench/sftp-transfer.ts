/**
 * What the SFTP parser costs: `sftp -b` put and get of one 256 MiB file, direct to the target
 * and through two Warden instances that differ only in `transfer.audit` (parser on / off),
 * interleaved. The file is random bytes in /dev/shm when it exists, so the disk is not what
 * is measured. Judged on Warden's CPU seconds per transfer (what parsing adds to the relay,
 * which others' load on a shared machine distorts less than wall time); wall times too. On a
 * loaded machine the on/off difference drowns in noise, so the parser is also timed alone, in
 * this process, on the same number of 32 KiB packets, and compared with the relay's CPU.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, rmSync, writeSync, closeSync, chmodSync, statSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { trackChild } from '../test/helpers/processes.js';
import { uniquePrefix } from '../test/helpers/redis.js';
import { BASE_OPTIONS } from '../test/helpers/ssh-client.js';
import { spawnWarden, type WardenProcess } from '../test/helpers/warden-process.js';
import { processCpuSeconds } from './proc-stats.js';
import { fmtSeconds, median } from './stats.js';
import { checkAborted, type BenchContext, type Measurement, type Result, type Row } from './types.js';
import { SftpTracker } from '../src/transfers/sftp-tracker.js';
import { compileTransferPolicy } from '../src/transfers/transfer-policy.js';

/** One SFTP packet: uint32 length, type, then fields already encoded. */
function packet(type: number, ...fields: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from([type]), ...fields]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const str = (b: Buffer) => Buffer.concat([u32(b.length), b]);

/**
 * The parser alone, in this process: CPU seconds to follow `size` bytes of 32 KiB WRITEs (put)
 * or DATA replies (get), cut into 32 KiB chunks as SSH channel data arrives, with their
 * small counterparts (STATUS / READ) in the other direction. Best of 5: interference only adds.
 */
export function parserCpu(size: number, op: 'put' | 'get', restrictive: boolean): number {
  const data = Buffer.alloc(32768, 7);
  const h = str(Buffer.from('HANDLE01'));
  const n = size / data.length;
  const big: Buffer[] = [];
  const small: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const id = u32(i + 10);
    const off = Buffer.alloc(8);
    off.writeBigUInt64BE(BigInt(i * data.length));
    if (op === 'put') big.push(packet(6, id, h, off, str(data)));
    else big.push(packet(103, id, str(data)));
    small.push(op === 'put' ? packet(101, id, u32(0), str(Buffer.alloc(0)), str(Buffer.alloc(0))) : packet(5, id, h, off, u32(data.length)));
  }
  const stream = Buffer.concat(big);
  const chunks: Buffer[] = [];
  for (let p = 0; p < stream.length; p += 32768) chunks.push(stream.subarray(p, p + 32768));
  const packetLen = big[0]!.length;
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const policy = compileTransferPolicy({ upload: true, download: true, delete: true, deny: restrictive ? ['/etc/**'] : [], ...(restrictive ? { maxFileSize: 2 * size } : {}) });
    const t = new SftpTracker({ policy, emit: () => {}, abandon: (why) => { throw new Error(why); } });
    const sink = () => {};
    const [bigSide, smallSide] = op === 'put' ? [t.fromClient, t.fromTarget] : [t.fromTarget, t.fromClient];
    t.fromClient.push(packet(1, u32(3)), sink);
    t.fromTarget.push(packet(2, u32(3)), sink);
    t.fromClient.push(packet(3, u32(1), str(Buffer.from('/srv/file')), u32(op === 'put' ? 0x1a : 1), u32(0)), sink);
    t.fromTarget.push(packet(102, u32(1), h), sink);
    const c0 = process.cpuUsage();
    // Requests before their replies: a READ goes out before its DATA, a WRITE before its STATUS.
    let fed = 0;
    let asked = 0;
    for (let i = 0; i < n; i++) {
      // Like OpenSSH's sftp, keep 64 READs outstanding: each is sent before its DATA arrives.
      while (op === 'get' && asked < Math.min(n, i + 64)) smallSide.push(small[asked++]!, sink);
      while (fed < chunks.length && fed * 32768 < (i + 1) * packetLen) bigSide.push(chunks[fed++]!, sink);
      if (op === 'put') smallSide.push(small[i]!, sink);
    }
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1e6);
  }
  return best;
}

type Via = 'direct' | 'on' | 'off';
interface Sample {
  seconds: number;
  wardenCpu: number;
}

function sftp(args: string[], batch: string, pid: number | undefined): Promise<Sample> {
  const child = spawn('sftp', [...BASE_OPTIONS, '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', ...args, '-b', '-', '127.0.0.1'], { stdio: ['pipe', 'ignore', 'pipe'] });
  trackChild(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const cpu0 = pid ? processCpuSeconds(pid) : 0;
  const t0 = performance.now();
  child.stdin!.end(`${batch}\n`);
  return new Promise((resolve, reject) =>
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`sftp ${batch}: exit ${code}: ${err.trim()}`));
      resolve({ seconds: (performance.now() - t0) / 1000, wardenCpu: pid ? processCpuSeconds(pid) - cpu0 : 0 });
    }),
  );
}

export const sftpTransfer: Measurement = {
  name: 'sftp',
  title: 'sftp put/get through Warden, SFTP parser on and off',
  async run(ctx: BenchContext): Promise<Result> {
    const { env } = ctx;
    const size = (ctx.quick ? 32 : 256) * 1024 * 1024;
    const reps = ctx.quick ? 1 : 3;
    const base = existsSync('/dev/shm') ? '/dev/shm' : '/tmp';
    const dir = mkdtempSync(path.join(base, 'warden-bench-sftp-'));
    chmodSync(dir, 0o777);
    const src = path.join(dir, 'src.bin');
    const fd = openSync(src, 'w');
    for (let done = 0; done < size; done += 1 << 20) writeSync(fd, randomBytes(1 << 20));
    closeSync(fd);
    const common = { redisUrl: env.redis.url, sshd: env.target };
    const [on, off] = await Promise.all([
      spawnWarden({ ...common, prefix: uniquePrefix(), extraYaml: 'recording: { enabled: false }\ntransfer: { audit: true }' }),
      spawnWarden({ ...common, prefix: uniquePrefix(), extraYaml: 'recording: { enabled: false }\ntransfer: { audit: false }' }),
    ]);
    const args = (via: Via): string[] => {
      if (via === 'direct') return ['-i', env.target.clientKeyPath, '-o', `User=${env.target.user}`, '-P', String(env.target.port)];
      const w: WardenProcess = via === 'on' ? on : off;
      return ['-i', w.aliceKey, '-o', 'User=alice@target@web1', '-P', String(w.port)];
    };
    const samples: Record<'put' | 'get', Record<Via, Sample[]>> = { put: { direct: [], on: [], off: [] }, get: { direct: [], on: [], off: [] } };
    try {
      for (let rep = 0; rep < reps; rep++) {
        const order: Via[] = rep % 3 === 0 ? ['direct', 'on', 'off'] : rep % 3 === 1 ? ['on', 'off', 'direct'] : ['off', 'direct', 'on'];
        for (const via of order) {
          for (const op of ['put', 'get'] as const) {
            checkAborted(ctx.signal);
            await ctx.settle();
            const remote = path.join(dir, `remote-${via}.bin`);
            const batch = op === 'put' ? `put ${src} ${remote}` : `get ${remote} ${path.join(dir, `back-${via}.bin`)}`;
            const pid = via === 'direct' ? undefined : (via === 'on' ? on : off).child.pid;
            const s = await sftp(args(via), batch, pid);
            if (op === 'get' && statSync(path.join(dir, `back-${via}.bin`)).size !== size) throw new Error(`sftp get via ${via}: short file`);
            samples[op][via].push(s);
            ctx.progress(`sftp rep ${rep + 1}/${reps} ${op} ${via}: ${s.seconds.toFixed(2)} s, Warden CPU ${s.wardenCpu.toFixed(2)} s`);
          }
        }
      }
    } finally {
      await Promise.all([on.stop(), off.stop()]);
      rmSync(dir, { recursive: true, force: true });
    }
    const rows: Row[] = [];
    const notes: string[] = [`${size / 1048576} MiB of random bytes from ${base}, ${reps} interleaved repetition(s), sftp -b run time (setup included).`];
    for (const op of ['put', 'get'] as const) {
      const s = samples[op];
      const relayCpu = median(s.off.map((x) => x.wardenCpu));
      const alone = { open: parserCpu(size, op, false), restricted: parserCpu(size, op, true) };
      const share = Math.max(alone.open, alone.restricted) / relayCpu;
      rows.push({
        metric: `sftp ${op} ${size / 1048576} MiB: SFTP parser alone vs Warden's relay CPU`,
        warden: `parser ${(alone.open * 1000).toFixed(0)} ms (restricting grant ${(alone.restricted * 1000).toFixed(0)} ms) · relay ${relayCpu.toFixed(2)} s`,
        ratio: `parser = ${(share * 100).toFixed(1)}% of the relay's CPU`,
        target: 'parsing costs ≤ 3%',
        ok: share <= 0.03,
      });
      const med = (via: Via, f: (x: Sample) => number) => median(s[via].map(f));
      // Best of the repetitions: other load only ever adds CPU time (medians drift with it).
      const best = (via: Via) => Math.min(...s[via].map((x) => x.wardenCpu));
      const cpuCost = best('on') / best('off') - 1;
      const wallCost = med('on', (x) => x.seconds) / med('off', (x) => x.seconds) - 1;
      rows.push({
        metric: `sftp ${op} ${size / 1048576} MiB, parser on vs off`,
        direct: fmtSeconds(med('direct', (x) => x.seconds)),
        warden: `on ${fmtSeconds(med('on', (x) => x.seconds))} (CPU best ${best('on').toFixed(2)} s) · off ${fmtSeconds(med('off', (x) => x.seconds))} (CPU best ${best('off').toFixed(2)} s)`,
        ratio: `parser: Warden CPU ${cpuCost >= 0 ? '+' : ''}${(cpuCost * 100).toFixed(1)}%, wall ${wallCost >= 0 ? '+' : ''}${(wallCost * 100).toFixed(1)}%`,
        target: 'Warden CPU (best of reps) cost ≤ 3%',
        ok: cpuCost <= 0.03,
      });
      for (const via of ['direct', 'on', 'off'] as const) notes.push(`${op} ${via}: seconds [${s[via].map((x) => x.seconds.toFixed(2)).join(', ')}], Warden CPU [${s[via].map((x) => x.wardenCpu.toFixed(2)).join(', ')}] s`);
    }
    return { rows, notes };
  },
};
