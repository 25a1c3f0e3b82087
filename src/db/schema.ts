/**
 * What the migrations create and every command relies on: the drift check of
 * `lora db status` compares a live database with this, column by column
 * (information_schema udt names). A test checks it against a freshly migrated
 * database, so the two cannot drift apart unnoticed.
 */
export const REQUIRED_SCHEMA: Record<string, Record<string, string | readonly string[]>> = {
  'public.datasets': {
    id: 'uuid', user_id: 'uuid', name: 'text', description: 'text', format: 'text', status: 'text',
    storage_bucket: 'text', storage_path: 'text', file_size: 'int8', sha256: 'text',
    total_training_pairs: 'int4', total_tokens: 'int8', training_ready: 'bool', error_message: 'text',
    validated_at: 'timestamptz', created_at: 'timestamptz', updated_at: 'timestamptz', deleted_at: 'timestamptz',
  },
  'public.training_jobs': {
    id: 'uuid', user_id: 'uuid', dataset_id: 'uuid', preset_id: 'text', hyperparameters: 'jsonb',
    gpu_config: 'jsonb', status: 'text', current_stage: 'text', progress: 'numeric', current_epoch: 'int4',
    total_epochs: 'int4', current_step: 'int4', total_steps: 'int4', current_metrics: 'jsonb',
    external_job_id: 'text', cluster_name: 'text', estimated_total_cost: 'numeric',
    estimated_duration_hours: 'numeric', current_cost: 'numeric', final_cost: 'numeric',
    error_message: 'text', error_stack: 'text', error_type: 'text', counts_toward_limit: 'bool',
    attempts: 'int4', claimed_by: 'text', lease_expires_at: 'timestamptz', wait_reason: 'text',
    artifact_id: 'uuid', started_at: 'timestamptz', completed_at: 'timestamptz',
    created_at: 'timestamptz', updated_at: 'timestamptz', billed_gpu_seconds: 'numeric', cost_source: 'text',
    cost_as_of: 'timestamptz', cost_by_month: 'jsonb',
  },
  'public.metrics_points': {
    id: 'int8', job_id: 'uuid', timestamp: 'timestamptz', epoch: 'int4', step: 'int4',
    training_loss: 'float8', validation_loss: 'float8', learning_rate: 'float8', gradient_norm: 'float8',
    throughput: 'float8', gpu_utilization: 'float8',
  },
  'public.cost_records': {
    id: 'uuid', user_id: 'uuid', job_id: 'uuid', cost_type: 'text', amount: 'numeric', details: 'jsonb',
    billing_period: 'date', recorded_at: 'timestamptz',
  },
  'public.notifications': {
    id: 'uuid', user_id: 'uuid', job_id: 'uuid', type: 'text', title: 'text', message: 'text',
    priority: 'text', action_url: 'text', metadata: 'jsonb', read: 'bool', read_at: 'timestamptz',
    created_at: 'timestamptz',
  },
  'public.model_artifacts': {
    id: 'uuid', job_id: 'uuid', user_id: 'uuid', name: 'text', status: 'text', storage_bucket: 'text',
    storage_path: 'text', artifacts: 'jsonb', validation_image_urls: '_text', source_urls: 'jsonb',
    upload_attempts: 'int4', upload_error: 'text', last_used_at: 'timestamptz', created_at: 'timestamptz',
    updated_at: 'timestamptz', deleted_at: 'timestamptz',
  },
  'public.user_training_limits': {
    // Older platform databases keep the reset date as a timestamptz; both are handled.
    user_id: 'uuid', loras_created_this_month: 'int4', monthly_limit: 'int4',
    month_reset_date: ['date', 'timestamptz'], created_at: 'timestamptz', updated_at: 'timestamptz',
  },
  'lora_ops.circuit_breakers': {
    cluster: 'text', state: 'text', generation: 'int8', failure_times: '_timestamptz', opened_at: 'timestamptz',
    open_until: 'timestamptz', probe_owner: 'text', probe_expires_at: 'timestamptz', last_error: 'text',
    updated_at: 'timestamptz',
  },
  'lora_ops.daemon_heartbeats': {
    daemon_id: 'text', host: 'text', pid: 'int4', version: 'text', started_at: 'timestamptz',
    last_cycle_at: 'timestamptz', last_cycle_ms: 'int4', jobs_touched: 'int4', status: 'text', last_error: 'text',
    // 0005
    beat_at: 'timestamptz', beat_interval_ms: 'int4',
  },
  'lora_ops.alert_state': {
    fingerprint: 'text', rule: 'text', subject: 'text', severity: 'text', status: 'text', value: 'float8',
    threshold: 'float8', message: 'text', first_fired_at: 'timestamptz', last_notified_at: 'timestamptz',
    resolved_at: 'timestamptz', updated_at: 'timestamptz',
    // 0003
    active_since: 'timestamptz', notified_severity: 'text', source: 'text', notifications: 'int4',
  },
  'lora_ops.alert_silences': {
    id: 'uuid', rule: 'text', subject: 'text', until: 'timestamptz', reason: 'text', created_by: 'text',
    created_at: 'timestamptz',
  },
  'lora_ops.orphaned_instances': {
    id: 'uuid', cluster: 'text', external_job_id: 'text', job_id: 'uuid', reason: 'text', status: 'text',
    attempts: 'int4', estimated_hourly_cost: 'numeric', started_at: 'timestamptz', first_seen_at: 'timestamptz',
    last_attempt_at: 'timestamptz', cleaned_at: 'timestamptz', last_error: 'text',
  },
  // 0003
  'lora_ops.storage_totals': {
    kind: 'text', bytes: 'int8', live: 'int8', ready: 'int8', updated_at: 'timestamptz',
  },
  'lora_ops.metrics_daily': {
    metric: 'text', day: 'date', data: 'jsonb', computed_at: 'timestamptz',
  },
  'lora_ops.audit_log': {
    id: 'int8', actor: 'text', action: 'text', target: 'text', count: 'int4', dry_run: 'bool',
    details: 'jsonb', created_at: 'timestamptz',
  },
  'lora_ops.task_runs': {
    task: 'text', last_slot: 'timestamptz', last_started_at: 'timestamptz', last_finished_at: 'timestamptz',
    last_status: 'text', last_error: 'text', run_by: 'text',
  },
  // 0006
  'lora_ops.user_month_costs': {
    month: 'date', user_id: 'uuid', total_cost: 'numeric', records: 'int8', jobs: 'int8', updated_at: 'timestamptz',
  },
  'lora_ops.user_month_jobs': {
    month: 'date', user_id: 'uuid', jobs: 'int8', updated_at: 'timestamptz',
  },
  // 0007
  'lora_ops.jobs_daily': {
    day: 'date', created: 'int8', completed: 'int8', failed: 'int8', training_seconds: 'numeric', trained: 'int8', updated_at: 'timestamptz',
  },
  'lora_ops.cost_daily': {
    day: 'date', total_cost: 'numeric', records: 'int8', jobs: 'int8', updated_at: 'timestamptz',
  },
  'lora_ops.model_bytes_daily': {
    day: 'date', bytes: 'int8', updated_at: 'timestamptz',
  },
}
