import type { V1Affinity, V1EnvVar, V1Job } from '@kubernetes/client-node';
import { runArgv } from '../../protocol/run-argv.js';
import { RUN_EXIT } from '../../protocol/run-request.js';
import { ANNOTATION, LABEL, MANAGED_BY, labelValue, memoUriHash, writerHash } from './job-naming.js';
import { forwardedEnv, DEFAULT_FORWARD_ENV, type K8sOptions } from './k8s-options.js';

/** The one container of every memocall Job (pod failure rules name it). */
export const CONTAINER_NAME = 'memocall';

export const DEFAULT_BACKOFF_LIMIT = 2;
export const DEFAULT_TTL_SECONDS_AFTER_FINISHED = 3_600;

export interface JobSpecInput {
  name: string;
  namespace: string;
  image: string;
  memoUri: string;
  functionId: string;
  writerId: string;
  /** The caller's environment, from which `forwardEnv` picks. Default `process.env`. */
  callerEnv?: NodeJS.ProcessEnv;
}

/**
 * The batch/v1 Job that runs one invocation: `memocall run <memo-uri> --writer-id=<id>` as
 * arguments (no shell), one pod at a time, never restarted in place (`restartPolicy: Never`,
 * which pod failure policies require).
 *
 * Failure handling, by exit code of `memocall run`:
 *  - 46 (the function threw, `error` stored) and 47 (the lease is another writer's, nothing to do):
 *    running again cannot change the outcome, so the Job fails at once (`FailJob`);
 *  - a pod disrupted by the cluster (preemption, eviction, node drain): not counted (`Ignore`);
 *  - anything else (memocall failed, OOM-killed, node lost...): retried up to `backoffLimit` times.
 */
export function buildJobManifest(input: JobSpecInput, options: K8sOptions): V1Job {
  const labels: Record<string, string> = {
    ...options.labels,
    [LABEL.managedBy]: MANAGED_BY,
    [LABEL.memoUriHash]: memoUriHash(input.memoUri),
    [LABEL.writerHash]: writerHash(input.writerId),
  };
  const fn = labelValue(input.functionId);
  if (fn) labels[LABEL.function] = fn;
  const annotations: Record<string, string> = {
    ...options.annotations,
    [ANNOTATION.memoUri]: input.memoUri,
    [ANNOTATION.writerId]: input.writerId,
    [ANNOTATION.functionId]: input.functionId,
  };
  const env: Record<string, string> = {
    ...forwardedEnv(options.forwardEnv ?? DEFAULT_FORWARD_ENV, input.callerEnv),
    ...options.env,
    // For the function's own use (e.g. to name its logs); the remote does not need them.
    MEMOCALL_K8S_NAMESPACE: input.namespace,
    MEMOCALL_K8S_JOB_NAME: input.name,
  };
  const envVars: V1EnvVar[] = Object.entries(env).map(([name, value]) => ({ name, value }));
  const command = options.command ?? ['memocall'];

  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: input.name, namespace: input.namespace, labels, annotations },
    spec: {
      completions: 1,
      parallelism: 1,
      backoffLimit: options.backoffLimit ?? DEFAULT_BACKOFF_LIMIT,
      ttlSecondsAfterFinished: options.ttlSecondsAfterFinished ?? DEFAULT_TTL_SECONDS_AFTER_FINISHED,
      ...(options.activeDeadlineSeconds !== undefined ? { activeDeadlineSeconds: options.activeDeadlineSeconds } : {}),
      podFailurePolicy: {
        rules: [
          {
            action: 'FailJob',
            onExitCodes: {
              containerName: CONTAINER_NAME,
              operator: 'In',
              values: [RUN_EXIT.userError, RUN_EXIT.leaseLost],
            },
          },
          { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
        ],
      },
      template: {
        metadata: { labels: { ...labels }, annotations: { ...annotations } },
        spec: {
          restartPolicy: 'Never',
          ...(options.serviceAccount ? { serviceAccountName: options.serviceAccount } : {}),
          ...(options.nodeSelector ? { nodeSelector: options.nodeSelector } : {}),
          ...(options.tolerations ? { tolerations: options.tolerations } : {}),
          ...(options.affinity ? { affinity: options.affinity as V1Affinity } : {}),
          ...(options.imagePullSecrets?.length
            ? { imagePullSecrets: options.imagePullSecrets.map((name) => ({ name })) }
            : {}),
          containers: [
            {
              name: CONTAINER_NAME,
              image: input.image,
              ...(options.imagePullPolicy ? { imagePullPolicy: options.imagePullPolicy } : {}),
              ...(command.length ? { command } : {}),
              args: runArgv({ memoUri: input.memoUri, writerId: input.writerId }),
              env: envVars,
              ...(options.envFrom?.length ? { envFrom: options.envFrom } : {}),
              ...(options.resources ? { resources: options.resources } : {}),
            },
          ],
        },
      },
    },
  };
}
