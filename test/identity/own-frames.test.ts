import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { isOwnFile } from '../../src/identity/source-location.js';
import { projectRoot } from '../support/child.js';

test("memocall's own files are its src/ and dist/src/, by real path, existing or only source-mapped; nothing else of its package", () => {
  expect(isOwnFile(path.join(projectRoot, 'src', 'memo', 'use-runner.ts'))).toBe(true);
  expect(isOwnFile(path.join(projectRoot, 'dist', 'src', 'memo', 'use-runner.js'))).toBe(true);
  // A source-mapped path of a package shipped without its sources.
  expect(isOwnFile(path.join(projectRoot, 'src', 'not-shipped', 'gone.ts'))).toBe(true);
  // The repository's own examples and tests are user code.
  expect(isOwnFile(path.join(projectRoot, 'examples', 'fibonacci.ts'))).toBe(false);
  expect(isOwnFile(path.join(projectRoot, 'dist', 'examples', 'fibonacci.js'))).toBe(false);
  expect(isOwnFile(path.join(projectRoot, 'test', 'identity', 'own-frames.test.ts'))).toBe(false);
  // Reached through a symlink (npm link, a directory install, workspaces).
  const dir = mkdtempSync(path.join(tmpdir(), 'memocall-link-'));
  try {
    symlinkSync(projectRoot, path.join(dir, 'memocall'), 'dir');
    expect(isOwnFile(path.join(dir, 'memocall', 'src', 'memo', 'use-runner.ts'))).toBe(true);
    expect(isOwnFile(path.join(dir, 'memocall', 'examples', 'fibonacci.ts'))).toBe(false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
