// Issue 10, finding 4: a 1 MiB bigint through the canonical codec (cbor-x alone decoded it in
// quadratic time and never finished).
//   npm run build && node dist/bench/bigint.js
import { decodeCanonical } from '../src/core/canonical-decode.js';
import { encodeCanonical } from '../src/core/canonical-encode.js';
import { fmtMs } from './support.js';

for (const kib of [256, 1024]) {
  const bytes = Buffer.alloc(kib * 1024);
  for (let i = 0; i < bytes.length; i++) bytes[i] = ((i * 131 + 7) % 255) + 1;
  const value = BigInt(`0x${bytes.toString('hex')}`);
  for (const [sign, v] of [
    ['positive', value],
    ['negative', -value],
  ] as const) {
    const encodeMs: number[] = [];
    const decodeMs: number[] = [];
    for (let round = 0; round < 5; round++) {
      let t = performance.now();
      const encoded = encodeCanonical(v);
      encodeMs.push(performance.now() - t);
      t = performance.now();
      const decoded = decodeCanonical(encoded);
      decodeMs.push(performance.now() - t);
      if (decoded !== v) throw new Error('round trip changed the value');
    }
    console.log(
      `${kib} KiB ${sign} bigint: encode ${fmtMs(Math.min(...encodeMs))}, decode ${fmtMs(Math.min(...decodeMs))} (best of 5)`,
    );
  }
}
