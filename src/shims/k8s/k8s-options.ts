// The Kubernetes shapes of the public options are declared here, by the parts memocall uses: the
// client's own types pull in declarations (`ws` through isomorphic-ws) that a consumer compiling
// with `skipLibCheck: false` would need extra @types for. The client's objects (a `KubeConfig`,
// `V1Job`, `V1Toleration`...) fit these shapes.

/** The cluster to use: a `KubeConfig` of @kubernetes/client-node. */
export interface K8sKubeConfig {
  getCurrentContext(): string;
  getContextObject(name: string): { namespace?: string } | null | undefined;
}

/** A whole Secret or ConfigMap as environment (`V1EnvFromSource`). */
export interface K8sEnvFromSource {
  secretRef?: { name?: string; optional?: boolean };
  configMapRef?: { name?: string; optional?: boolean };
  /** Prepended to each variable's name. */
  prefix?: string;
}

/** A pod toleration (`V1Toleration`). */
export interface K8sToleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

/** Pod affinity rules (`V1Affinity`), passed to the pod spec as given. */
export interface K8sAffinity {
  nodeAffinity?: object;
  podAffinity?: object;
  podAntiAffinity?: object;
}

/** Object metadata of a Job (`V1ObjectMeta`), as far as a `transform` usually needs it. */
export interface K8sObjectMeta {
  name?: string;
  namespace?: string;
  labels?: { [key: string]: string };
  annotations?: { [key: string]: string };
}

/**
 * A batch/v1 Job as memocall builds it: a `V1Job` of @kubernetes/client-node (a transform may
 * declare its parameter as `V1Job` to reach the whole spec).
 */
export interface K8sJob {
  apiVersion?: string;
  kind?: string;
  metadata?: K8sObjectMeta;
  spec?: object;
  status?: object;
}

/** Compute resources of the Job's container, in Kubernetes quantities (`'500m'`, `'2Gi'`). */
export interface K8sResources {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

/** Options of `k8s()`. Only `image` is required. */
export interface K8sOptions {
  /**
   * The container image: memocall and the functions' code, the same version as the caller's (the
   * Job imports the function by its module id). A function is called once per invocation, e.g.
   * to build and push an image and return its tag.
   */
  image: string | (() => string | Promise<string>);
  /** Where Jobs are created. Default: the kubeconfig context's namespace, else `'default'`. */
  namespace?: string;
  /** Requests and limits of the container. Default: none (the namespace's defaults apply). */
  resources?: K8sResources;
  /** Environment of the container, on top of the forwarded variables (see `forwardEnv`). */
  env?: Record<string, string>;
  /**
   * Whole Secrets or ConfigMaps as environment (`[{ secretRef: { name: 'blob-credentials' } }]`):
   * the way to give the Job store credentials. memocall never copies secrets into a Job spec,
   * where anyone allowed to read Jobs could see them.
   */
  envFrom?: K8sEnvFromSource[];
  /**
   * Variables of the caller's environment copied into the Job (exact names, or prefixes ending in
   * `*`), so the remote sees the same blob store settings. Default `DEFAULT_FORWARD_ENV`:
   * `MEMOCALL_*` (less machine-local ones: code root, cache directory) and the non-secret AWS
   * region and endpoint variables. `[]` copies nothing.
   */
  forwardEnv?: readonly string[];
  /** The pod's service account (workload identity for the blob store). Default: the namespace's default. */
  serviceAccount?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: K8sToleration[];
  affinity?: K8sAffinity;
  /** Default: Kubernetes' own (`Always` for `:latest` or untagged images, else `IfNotPresent`). */
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Names of Secrets to pull the image with. */
  imagePullSecrets?: string[];
  /**
   * The container's command; its arguments are always `run <memo-uri> --writer-id=<id>`.
   * Default `['memocall']` (on the image's PATH). `[]` keeps the image's ENTRYPOINT.
   */
  command?: string[];
  /** Pod failures other than the user's error tolerated before the Job fails (infrastructure retries). Default 2. */
  backoffLimit?: number;
  /** Finished Jobs are deleted by the cluster this long after finishing. Default 3 600 s. */
  ttlSecondsAfterFinished?: number;
  /** The Job fails (an infrastructure failure) if it runs longer than this. Default: no limit. */
  activeDeadlineSeconds?: number;
  /** More labels and annotations for the Job and its pods. */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /**
   * Last change to each Job before it is created (volumes, sidecars, workload identity...).
   * (Method syntax on purpose: `transform: (job: V1Job) => ...` is accepted too.)
   */
  transform?(job: K8sJob, context: { memoUri: string; functionId: string }): K8sJob | Promise<K8sJob>;
  /** The cluster to use. Default `KubeConfig.loadFromDefault()` ($KUBECONFIG, ~/.kube/config, or in-cluster). */
  kubeConfig?: K8sKubeConfig;
  /**
   * The pods mount this machine's `file://` blob root at the same path (hostPath, NFS): lets a
   * `file://` blob root through, which is otherwise refused (a pod could not reach it). Default false.
   */
  sharedFilesystem?: boolean;
  /** The shared watch on the Jobs, silent (not even a bookmark) this long, is restarted. Default 120 000 ms. */
  watchdogMs?: number;
  /** The Jobs are also LISTed this often (one request for all waiting calls), whatever the watch says. Default 30 000 ms. */
  pollMs?: number;
}

/** `forwardEnv` default: what the remote needs to reach the same blob store, and nothing secret. */
export const DEFAULT_FORWARD_ENV: readonly string[] = [
  'MEMOCALL_*',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_S3',
];

/** Never forwarded: paths or state of the caller's machine. */
const MACHINE_LOCAL = new Set(['MEMOCALL_CODE_ROOT', 'MEMOCALL_CACHE_DIR', 'MEMOCALL_SUBPROCESS_DEPTH']);

/** The variables of `env` that `patterns` select (exact names, or prefixes ending in `*`). */
export function forwardedEnv(
  patterns: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || MACHINE_LOCAL.has(name)) continue;
    if (patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p))) out[name] = value;
  }
  return out;
}
