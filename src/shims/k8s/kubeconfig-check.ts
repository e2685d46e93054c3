import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { ConfigurationError } from '../../core/configuration-error.js';

/** Where `loadFromDefault` reads the in-cluster service account token. */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * `KubeConfig.loadFromDefault()` that found nothing does not fail: it points at
 * `http://localhost:8080` (cluster `cluster`, user `user`), and the first request fails much later
 * with a connection or TLS error. Recognised here by that exact fallback (and no KUBECONFIG), and
 * reported at once, naming every place that was looked at.
 */
export function checkKubeConfigFound(kubeConfig: KubeConfig, env: NodeJS.ProcessEnv = process.env): void {
  if (env.KUBECONFIG) return;
  const cluster = kubeConfig.getCurrentCluster();
  const fallback =
    kubeConfig.clusters.length === 1 &&
    cluster?.name === 'cluster' &&
    cluster.server === 'http://localhost:8080' &&
    kubeConfig.getCurrentUser()?.name === 'user';
  if (!fallback) return;
  const home = path.join(homedir(), '.kube', 'config');
  throw new ConfigurationError(
    [
      'k8s(): no Kubernetes configuration found. Looked at:',
      ' KUBECONFIG (not set);',
      ` ${home} (${existsSync(home) ? 'present but not loaded' : 'absent'});`,
      ` in-cluster (KUBERNETES_SERVICE_HOST ${env.KUBERNETES_SERVICE_HOST ? 'set' : 'not set'}, ${SERVICE_ACCOUNT_TOKEN} ${existsSync(SERVICE_ACCOUNT_TOKEN) ? 'present' : 'absent'}).`,
      ' Set KUBECONFIG, or pass k8s({ kubeConfig }).',
    ].join(''),
  );
}
