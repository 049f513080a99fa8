/**
 * The recording worker thread (see recording-offload.ts): JSON escaping and hashing of every
 * recorder's batches, with each recording's encoder state kept under its id.
 */
import { parentPort } from 'node:worker_threads';
import { InlineCodec } from './batch-codec.js';
import type { WorkerReply, WorkerRequest } from './recording-offload.js';

const port = parentPort!;
const codecs = new Map<number, InlineCodec>();

port.on('message', (m: WorkerRequest) => {
  if (m.op === 'release') {
    codecs.delete(m.id);
    return;
  }
  let reply: WorkerReply;
  const transfer: ArrayBuffer[] = [];
  try {
    let codec = codecs.get(m.id);
    if (!codec) codecs.set(m.id, (codec = new InlineCodec(m.startMs, m.coalesceMs)));
    const bytes = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
    const data: Array<Buffer | string> = [];
    let at = 0;
    let text = 0;
    for (const size of m.sizes) {
      if (size < 0) data.push(m.texts[text++]!);
      else data.push(bytes.subarray(at, (at += size)));
    }
    // A buffer of its own per chunk, so it can be transferred back without a copy.
    const out = codec.encodeNow({ data, times: m.times, kinds: m.kinds, final: m.final, endAt: m.endAt }, Buffer.allocUnsafeSlow);
    if (m.final) codecs.delete(m.id);
    reply = out ? { req: m.req, chunk: out.chunk, sha256: out.sha256 } : { req: m.req };
    if (out) transfer.push(out.chunk.buffer as ArrayBuffer);
  } catch (err) {
    codecs.delete(m.id);
    reply = { req: m.req, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply, transfer);
});
