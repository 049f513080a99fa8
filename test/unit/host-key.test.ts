import { describe, expect, it } from 'vitest';
import { newHostKeyPair } from '../../src/front-door.js';
import { utils } from '../../src/ssh2.js';

describe('host key generation', () => {
  it('every generated ed25519 pair parses back (ssh2 alone fails ~1 in 256)', () => {
    // 2000 pairs: with the bare generator, P(no bad pair) = (255/256)^2000 < 0.05%.
    const bad: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const pair = newHostKeyPair();
      for (const text of [pair.private, pair.public]) {
        const parsed = utils.parseKey(text);
        if (parsed instanceof Error) bad.push(`${parsed.message}: ${text.split('\n')[0]}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
