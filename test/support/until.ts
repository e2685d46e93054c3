/**
 * Waits for an event a test cannot subscribe to (a file appearing, a process ending) by checking
 * `condition` every 50 ms; fails after `timeoutMs` naming `what`. Never a fixed sleep: the wait
 * is as short as the event allows, however loaded the machine.
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
