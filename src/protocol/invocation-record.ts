import { decodeCanonical } from '../core/canonical-decode.js';
import { encodeCanonical } from '../core/canonical-encode.js';
import type { KEY_FORMAT_VERSION } from '../core/key-format.js';
import type { MemoUriParts } from './memo-uri.js';

/** The `invocation` file: everything a remote needs to find and run the call. */
export interface InvocationRecord {
  format: typeof KEY_FORMAT_VERSION;
  memo: MemoUriParts;
  functionId: string;
  /** Source module relative to the code root, extension dropped. */
  moduleId: string;
  /** The running file relative to the code root (differs from moduleId when compiled). */
  runtimeModule: string | undefined;
  /** The canonical encoding of the argument array: exactly the bytes that were hashed. */
  args: Uint8Array;
  invokedAt: string;
  invokedBy: string;
  writerId: string;
  /**
   * The caller's absolute code root. Only a hint, for a remote on the same machine that cannot
   * find the module from its own code root (`memocall run` started by hand from elsewhere).
   */
  codeRoot?: string;
}

export function encodeInvocation(record: InvocationRecord): Uint8Array {
  return encodeCanonical(stripUndefined(record), 'invocation');
}

export function decodeInvocation(bytes: Uint8Array): InvocationRecord {
  return decodeCanonical(bytes) as InvocationRecord;
}

function stripUndefined<T extends object>(record: T): T {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as T;
}
