import { inspect } from 'node:util';
import { redactUri } from '../core/redact-uri.js';
import { DestFile } from '../files/dest-file.js';
import { FileValue } from '../files/file-value.js';

/** What a person needs of a file value: where it is, what it holds. Never a getter with effects. */
function fileFacts(value: FileValue | DestFile): Record<string, unknown> {
  const facts: Record<string, unknown> = {
    uri: value.uri === undefined ? undefined : redactUri(value.uri),
    sha256: value.sha256,
    size: value.size,
  };
  if (value instanceof FileValue && value.state.kind === 'local') facts.localPath = value.state.localPath;
  return Object.fromEntries(Object.entries(facts).filter(([, v]) => v !== undefined));
}

/** A file value as `util.inspect` shows it: `SrcFile { uri: ..., sha256: ..., size: ... }`. */
class FileView {
  constructor(
    readonly kind: string,
    readonly facts: Record<string, unknown>,
  ) {}

  [inspect.custom](_depth: number, options: object): string {
    return `${this.kind} ${inspect(this.facts, options)}`;
  }
}

/** A decoded value for `util.inspect`: file values opened up, everything else as it is. */
export function forInspect(value: unknown, seen = new Set<unknown>()): unknown {
  if (value instanceof FileValue || value instanceof DestFile)
    return new FileView(value.constructor.name, fileFacts(value));
  if (typeof value !== 'object' || value === null || seen.has(value) || ArrayBuffer.isView(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => forInspect(v, seen));
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [forInspect(k, seen), forInspect(v, seen)]));
  if (value instanceof Set) return new Set([...value].map((v) => forInspect(v, seen)));
  if (value instanceof Date) return value;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value; // a registered class: its own inspect
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, forInspect(v, seen)]));
}

/**
 * A decoded value as JSON: types JSON lacks are tagged objects (`{"$bigint": "12"}`, `{"$set": [...]}`,
 * `{"$map": [[k, v]]}`, `{"$bytes": base64}`, `{"$file": "SrcFile", uri, sha256, size}`); dates are ISO.
 */
export function forJson(value: unknown): unknown {
  if (value === undefined) return { $undefined: true };
  if (typeof value === 'bigint') return { $bigint: value.toString() };
  if (typeof value === 'number' && !Number.isFinite(value)) return { $number: String(value) };
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof FileValue || value instanceof DestFile)
    return { $file: value.constructor.name, ...fileFacts(value) };
  if (value instanceof Date) return value.toISOString();
  if (ArrayBuffer.isView(value))
    return {
      $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'),
      type: value.constructor.name,
    };
  if (Array.isArray(value)) return value.map(forJson);
  if (value instanceof Map) return { $map: [...value].map(([k, v]) => [forJson(k), forJson(v)]) };
  if (value instanceof Set) return { $set: [...value].map(forJson) };
  const proto = Object.getPrototypeOf(value);
  const fields = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, forJson(v)]));
  return proto === Object.prototype || proto === null ? fields : { $class: value.constructor?.name ?? '?', ...fields };
}
