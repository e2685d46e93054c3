// Issue 10, finding 3: two functions never share a memo URI. The two collisions of the report,
// through the public API, then a property test over many generated tuples built from the
// characters that aliased before (`/`, `@`, `--`, `%`, `~`, qualifier- and version-like parts).
import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { MemoizingRunner, pure, useRunner } from '../../src/index.js';
import { argsKey } from '../../src/core/args-key.js';
import { functionMemospace, memoUriOf, parseMemoUri, type MemoUriParts } from '../../src/protocol/memo-uri.js';

const freshRoot = () => `memory://memo-uri-${randomBytes(4).toString('hex')}`;

describe('the collisions of the report', () => {
  test("{ id: 'train@v2' } is refused; { id: 'train', logicKey: 'v2' } keeps its own results", async () => {
    const blobRoot = freshRoot();
    expect(() => pure(async () => 'impostor', { id: 'train@v2', blobRoot })).toThrow(
      /id "train@v2" is not usable in a memo URI.*@ separates the logic key/,
    );
    expect(() => pure(async () => 'impostor', { id: 'train~v2', blobRoot })).toThrow(/not usable in a memo URI/);
    const train = pure(async (x: number) => `train v2 of ${x}`, { id: 'train', logicKey: 'v2', blobRoot });
    expect(await train(1)).toBe('train v2 of 1');
    expect(() => pure(async () => 'x', { id: 'train', logicKey: 'v@2', blobRoot })).toThrow(/logicKey/);
  });

  test('pipeline team/alpha + id prep and pipeline team + id alpha/prep have their own URIs and results', async () => {
    const blobRoot = freshRoot();
    const alpha = new MemoizingRunner({ blobRoot, pipelineId: 'team/alpha' });
    const team = new MemoizingRunner({ blobRoot, pipelineId: 'team' });
    const prep = useRunner(alpha, async (x: number) => `prep of ${x}`, { id: 'prep' });
    const alphaPrep = useRunner(team, async (x: number) => `alpha/prep of ${x}`, { id: 'alpha/prep' });
    const uris = [await prep.memoUri(1), await alphaPrep.memoUri(1)];
    expect(uris[0]).not.toBe(uris[1]);
    expect(uris[0]).toContain('/team~alpha/prep/');
    expect(uris[1]).toContain('/team/alpha~prep/');
    expect(await prep(1)).toBe('prep of 1');
    expect(await alphaPrep(1)).toBe('alpha/prep of 1');
    expect(parseMemoUri(uris[0]!, blobRoot)).toMatchObject({ pipelineId: 'team/alpha', functionId: 'prep' });
    expect(parseMemoUri(uris[1]!, blobRoot)).toMatchObject({ pipelineId: 'team', functionId: 'alpha/prep' });
  });

  test('a function id ending in a calls-like part is not a function with calls', async () => {
    const blobRoot = freshRoot();
    const runner = new MemoizingRunner({ blobRoot, pipelineId: 'p' });
    const callee = useRunner(runner, async (x: number) => x, { id: 'callee', logicKey: 'v1' });
    const caller = useRunner(runner, async (x: number) => `caller ${await callee(x)}`, { id: 'f', calls: [callee] });
    const callsSegment = (await caller.memoUri(1)).split('/').at(-2)!;
    expect(callsSegment).toMatch(/^calls-/);
    const impostor = useRunner(runner, async (x: number) => `impostor ${x}`, { id: `f/${callsSegment}` });
    expect(await impostor.memoUri(1)).not.toBe(await caller.memoUri(1));
  });
});

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function generator(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Few, short pieces, so that many generated tuples are near each other.
const PIECES = ['a', 'b', '/', '@', '-', '--', '%', '%2F', '~', '.', '..', 'calls-x', 'code-y', 'memocall-v2', 'v2'];
const KEYS = [argsKey([]).key, argsKey([1]).key];

describe('no two distinct tuples share a URI (property)', () => {
  test('over 60,000 generated tuples: every accepted tuple has its own URI, which parses back to it', () => {
    const random = generator(20261129);
    const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
    const id = () => Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(PIECES)).join('');
    const blobRoot = 'file:///store/root';
    const owner = new Map<string, string>();
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < 60_000; i++) {
      const parts: MemoUriParts = {
        blobRoot,
        pipelineId: id(),
        functionId: id(),
        logicKey: random() < 0.5 ? undefined : id(),
        codeSegment: random() < 0.8 ? undefined : pick(['code-y', 'code-z']),
        callsSegment: random() < 0.7 ? undefined : pick(['calls-x', 'calls-y']),
        argsKey: pick(KEYS),
      };
      let uri: string;
      try {
        uri = memoUriOf(parts);
      } catch (err) {
        expect(err).toMatchObject({ code: 'MEMOCALL_CONFIGURATION' });
        refused++;
        continue;
      }
      accepted++;
      const tuple = JSON.stringify([
        parts.pipelineId,
        parts.functionId,
        parts.logicKey ?? null,
        parts.codeSegment ?? null,
        parts.callsSegment ?? null,
        parts.argsKey,
      ]);
      const previous = owner.get(uri);
      if (previous !== undefined && previous !== tuple) throw new Error(`${previous} and ${tuple} share ${uri}`);
      owner.set(uri, tuple);
      const parsed = parseMemoUri(uri, blobRoot);
      expect(parsed).toEqual({ ...parts, codeSegment: parts.codeSegment ?? undefined });
      expect(`${functionMemospace(parts)}/${parts.argsKey}`).toBe(uri);
    }
    // Both sides were exercised: adversarial ids were refused, and many distinct valid ones kept apart.
    expect(refused).toBeGreaterThan(10_000);
    expect(owner.size).toBeGreaterThan(5_000);
    expect(accepted).toBeGreaterThan(owner.size); // some tuples repeated: the same URI for the same tuple
  });
});
