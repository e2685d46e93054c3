import { MemocallError } from './memocall-error.js';

/** An optional peer dependency (a cloud SDK, the Kubernetes client, BullMQ) is not installed. */
export class MissingDependencyError extends MemocallError {
  /** The npm package to install. */
  readonly packageName: string;
  /** The version range memocall supports. */
  readonly versionRange: string;

  constructor(packageName: string, versionRange: string, usedBy: string, options?: { cause?: unknown }) {
    super(
      'MEMOCALL_MISSING_DEPENDENCY',
      `${usedBy} needs the package ${packageName}@${versionRange}, which is not installed; ` +
        `run: npm install ${packageName}@${versionRange}`,
      options,
    );
    this.packageName = packageName;
    this.versionRange = versionRange;
  }
}
