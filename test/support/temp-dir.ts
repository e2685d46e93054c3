import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach } from 'vitest';

/** A fresh directory per test, removed after it; `uri` is its file:// blob root. */
export function useTempDir(): () => { dir: string; uri: string } {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'memocall-test-'));
    made.push(dir);
    return { dir, uri: pathToFileURL(dir).href };
  };
}
