/**
 * The error types a failed job is filed under (training_jobs.error_type), in the
 * style of the platform's error analysis (seed 002). `lora metrics errors` groups by
 * these; the daemon sets them.
 */
export const ERROR_TYPES = {
  /** Training ran past the limit and was cancelled (not the user's fault). */
  timeout: 'TIMEOUT_ERROR',
  /** The cluster refused or failed the submission, after retries. */
  cluster: 'CLUSTER_API_ERROR',
  /** The cluster could not be reached. */
  network: 'NETWORK_ERROR',
  /** Storage failed: signing the dataset URL, copying artifacts. */
  storage: 'STORAGE_ERROR',
  /** The training itself failed on the cluster (its error message says why). */
  training: 'TRAINING_ERROR',
  /** Invalid training images or quality validation failed (not the user's fault). */
  validation: 'VALIDATION_ERROR',
  /** The job's daemon died too often: its lease expired on every attempt. */
  lease: 'LEASE_EXPIRED',
  unknown: 'UNKNOWN_ERROR',
} as const

export type ErrorType = (typeof ERROR_TYPES)[keyof typeof ERROR_TYPES]

/** Failures that are not the user's fault do not count toward the monthly limit. */
export const NOT_USERS_FAULT: readonly ErrorType[] = [ERROR_TYPES.timeout, ERROR_TYPES.validation, ERROR_TYPES.cluster, ERROR_TYPES.network, ERROR_TYPES.storage, ERROR_TYPES.lease]
