import { existsSync } from 'node:fs';
import path from 'node:path';

const rootOfDir = new Map<string, string>();

/**
 * The nearest directory at or above `dir` holding a package.json: the root that module ids are
 * relative to, so an id is the same on every machine and from every working directory.
 */
export function codeRootOf(dir: string): string {
  const cached = rootOfDir.get(dir);
  if (cached !== undefined) return cached;
  let current = dir;
  let found = dir;
  for (;;) {
    if (existsSync(path.join(current, 'package.json'))) {
      found = current;
      break;
    }
    const parent = path.dirname(current);
    if (parent === current) break; // no package.json anywhere: fall back to the file's own directory
    current = parent;
  }
  rootOfDir.set(dir, found);
  return found;
}
