/**
 * Finds the instances of some classes inside argument and result values, through the containers
 * the canonical encoding knows (arrays, plain objects, Map keys and values, Set elements). Other
 * objects are not entered: the encoder refuses them anyway, or encodes them through a codec.
 * Each object is visited once (shared references, and cycles, which the encoder then rejects).
 */
export function collectInstances<T>(value: unknown, isTarget: (v: object) => v is T & object): T[] {
  const found: T[] = [];
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (isTarget(v)) {
      found.push(v);
      continue;
    }
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        const item: unknown = v[i];
        if (typeof item === 'object' && item !== null) stack.push(item);
      }
    } else if (v instanceof Map) {
      for (const [k, item] of v) stack.push(k, item);
    } else if (v instanceof Set) {
      for (const item of v) stack.push(item);
    } else {
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) continue;
      for (const key of Object.keys(v)) {
        const item = (v as Record<string, unknown>)[key];
        if (typeof item === 'object' && item !== null) stack.push(item);
      }
    }
  }
  return found;
}
