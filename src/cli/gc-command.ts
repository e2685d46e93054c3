import { collectFileStoreGarbage } from '../blobstore/local/temp-file-collector.js';
import type { Output } from './output.js';
import { UsageError } from './usage-error.js';

export interface GcOptions {
  dryRun?: boolean;
  json?: boolean;
}

/**
 * `memocall gc <root>`: removes what killed writers left in a file:// store (temp files whose
 * writer is dead on this host, or untouched for 24 h). Cloud stores leave no temp objects: their
 * writes are single requests or multipart uploads that abort on failure.
 */
export async function gcCommand(root: string, options: GcOptions, output: Output): Promise<number> {
  if (!root.startsWith('file:')) throw new UsageError(`gc cleans file:// stores only, got ${root}`);
  const report = await collectFileStoreGarbage(root, { dryRun: options.dryRun === true });
  if (options.json) {
    await output.json({ dryRun: options.dryRun === true, ...report });
    return 0;
  }
  const verb = options.dryRun ? 'would remove' : 'removed';
  for (const garbage of report.removed)
    await output.line(`${verb} ${garbage.path} (${garbage.bytes} bytes, ${garbage.reason})`);
  const bytes = report.removed.reduce((sum, garbage) => sum + garbage.bytes, 0);
  await output.line(
    `${verb} ${report.removed.length} temp file(s), ${bytes} bytes; kept ${report.kept}; ${report.directories} directories read`,
  );
  return 0;
}
