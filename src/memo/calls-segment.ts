import { sha256 } from '../core/sha256.js';

/** What `calls` needs of a memoized function: its identity, logic key, and its own callees. */
export interface CallsNode {
  readonly functionId: string;
  readonly logicKey: string | undefined;
  readonly calls: readonly CallsNode[];
}

/**
 * `calls-<hash>` over the `functionId@logicKey` of every function reachable through `calls`
 * (transitively, cycles allowed), so changing a callee's logic key changes its callers' URIs.
 * Callees without a logic key contribute nothing of their own. Undefined when there is nothing.
 */
export function callsSegmentOf(root: CallsNode): string | undefined {
  const seen = new Set<CallsNode>([root]);
  const keys = new Set<string>();
  const stack = [...root.calls];
  while (stack.length) {
    const node = stack.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    if (node.logicKey) keys.add(`${node.functionId}@${node.logicKey}`);
    stack.push(...node.calls);
  }
  if (!keys.size) return undefined;
  const digest = sha256(new TextEncoder().encode([...keys].sort().join('\n')));
  return `calls-${Buffer.from(digest.subarray(0, 12)).toString('base64url')}`;
}
