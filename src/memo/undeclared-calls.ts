import type { InvocationContext } from '../execute/invocation-context.js';
import type { CallsNode } from './calls-segment.js';

/**
 * Nested memoized calls and the `calls` option. A function's memo URI covers the logic keys of
 * the functions it declares in `calls` (transitively); a callee it calls without declaring it can
 * change its logic (a `logicKey` bump) while the caller's stored results stay hits. Each nested
 * call is noted in the run's record, and a callee the caller does not reach through its `calls`
 * is warned about once per (caller, callee) pair in this process (`MEMOCALL_UNDECLARED_CALL`).
 */
export const UNDECLARED_CALL = 'MEMOCALL_UNDECLARED_CALL';

const nodes = new Map<string, CallsNode>();
const reachable = new Map<string, boolean>();
const warned = new Set<string>();

/** Makes a memoized function's `calls` graph known by its id (for the calls made while it runs). */
export function registerCallsNode(functionId: string, node: CallsNode): void {
  nodes.set(functionId, node);
}

/** Notes a call of `callee` made inside the invocation `ctx` runs; warns when it is undeclared. */
export function noteNestedCall(ctx: InvocationContext, callee: CallsNode): void {
  const callerId = ctx.memo.functionId;
  const calleeId = callee.functionId;
  if (callerId === calleeId) return; // recursion: its own logic key is in its URI already
  const seen = ctx.nestedCalls;
  if (seen?.has(calleeId)) return;
  const pair = `${callerId}\n${calleeId}`;
  let declared = reachable.get(pair);
  if (declared === undefined) {
    const caller = nodes.get(callerId);
    // A caller this process does not know (it cannot be: it runs here) is given the benefit of the doubt.
    declared = caller === undefined || reaches(caller, calleeId);
    reachable.set(pair, declared);
  }
  seen?.set(calleeId, declared);
  if (declared || warned.has(pair)) return;
  warned.add(pair);
  const name = calleeId.includes('--') ? calleeId.slice(calleeId.lastIndexOf('--') + 2) : calleeId;
  process.emitWarning(
    `${callerId} calls the memoized function ${calleeId}, which is not in its \`calls\`: a change of ${calleeId}'s logicKey will not make ${callerId} compute again (its stored results stay hits). ` +
      `Declare it where ${callerId} is memoized: useRunner(runner, fn, { calls: [${name}] })`,
    { code: UNDECLARED_CALL },
  );
}

function reaches(root: CallsNode, functionId: string): boolean {
  const seen = new Set<CallsNode>([root]);
  const stack = [...root.calls];
  while (stack.length) {
    const node = stack.pop()!;
    if (node.functionId === functionId) return true;
    if (seen.has(node)) continue;
    seen.add(node);
    stack.push(...node.calls);
  }
  return false;
}
