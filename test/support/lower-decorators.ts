import { transform } from 'esbuild';
import type { Plugin } from 'vitest/config';

/**
 * Vite 8's Oxc transform leaves TC39 decorators in place and Node 20 cannot parse them:
 * lower them with esbuild (as tsc does for the published build) in test files that use them.
 */
export function lowerDecorators(): Plugin {
  return {
    name: 'memocall:lower-decorators',
    enforce: 'pre',
    async transform(code, id) {
      if (!/\.[cm]?ts$/.test(id) || !/^\s*@[A-Za-z_$]/m.test(code)) return null;
      const out = await transform(code, {
        loader: 'ts',
        target: 'es2022',
        sourcemap: true,
        sourcefile: id,
        keepNames: true,
      });
      return { code: out.code, map: out.map };
    },
  };
}
