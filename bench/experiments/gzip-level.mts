/**
 * Experiment (not part of npm run bench): CPU per MiB of gzip (node:zlib, as
 * src/recording/finalize.ts runs it after every session) at the default level and at level 1,
 * on asciicast-encoded bench text (bench/text-file.ts's block, encoded by Warden's encoder).
 *
 *   npx tsx bench/experiments/gzip-level.mts [MiB=32]
 */
import { gzipSync } from 'node:zlib';
import { InlineCodec } from '../../src/recording/batch-codec.js';
import { textBlock } from '../text-file.js';

const mib = Number(process.argv[2] ?? 32);
const block = textBlock();
const codec = new InlineCodec(Date.now(), 0);
// 16 KiB chunks, as ssh2 delivers them, 1 ms apart (no merging beyond what the encoder does).
const data: Buffer[] = [];
for (let i = 0; i < mib; i++) for (let at = 0; at < block.length; at += 16384) data.push(block.subarray(at, at + 16384));
const cast = codec.encodeNow({ data, times: data.map((_, i) => i), kinds: data.map(() => 0), final: true, endAt: data.length })!.chunk;
console.log(`${mib} MiB of text -> ${(cast.length / 1048576).toFixed(1)} MiB of asciicast`);
for (const level of [6, 1]) {
  const c0 = process.cpuUsage();
  const out = gzipSync(cast, { level, chunkSize: 256 * 1024 });
  const c = process.cpuUsage(c0);
  const ms = (c.user + c.system) / 1000;
  console.log(`gzip level ${level}: ${(ms / mib).toFixed(1)} ms CPU per MiB of text, ratio ${(out.length / cast.length).toFixed(3)}`);
}
