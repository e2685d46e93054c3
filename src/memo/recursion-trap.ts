/**
 * `useRunner(runner, async function fib(n) { ... fib(n - 1) ... })`: the inner `fib` is the
 * function expression's own name, i.e. the raw function, so recursion silently skips
 * memoization. Detected from the source text: a named function that calls its own name.
 */
export function callsItselfByName(fn: (...args: never[]) => unknown): boolean {
  const name = fn.name;
  if (!name || !/^[A-Za-z_$][\w$]*$/.test(name)) return false;
  const source = Function.prototype.toString.call(fn);
  const body = source.slice(source.indexOf('{') + 1);
  return new RegExp(`(?<![\\w$.])${name.replace(/\$/g, '\\$')}\\s*\\(`).test(body);
}

export function warnRecursionTrap(functionId: string, name: string): void {
  process.emitWarning(
    `${functionId}: the function ${name} calls itself by its own name, which is the raw function, so those recursive calls are not memoized. ` +
      `Call the memoized wrapper instead: declare the raw function under another name (async function ${name}Impl(...) { ... ${name}(...) ... }) and export const ${name} = useRunner(runner, ${name}Impl).`,
    { code: 'MEMOCALL_RECURSION_TRAP' },
  );
}
