// bench/cluster.ts
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";

// src/clock.ts
function abortError(signal) {
  const reason = signal.reason;
  if (reason instanceof Error) return reason;
  const error = new Error("The operation was aborted.");
  error.name = "AbortError";
  return error;
}
var systemClock = {
  now: () => /* @__PURE__ */ new Date(),
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.max(0, ms));
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortError(signal));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
};

// src/cluster/client.ts
import { Pool } from "undici";

// src/config/duration.ts
var UNITS = {
  ms: 1,
  s: 1e3,
  m: 6e4,
  h: 36e5,
  d: 864e5,
  w: 7 * 864e5,
  mo: 30 * 864e5
};
function formatDuration(ms) {
  if (ms < 1e3) return `${Math.round(ms)}ms`;
  const parts = [];
  let rest = Math.round(ms / 1e3);
  for (const [unit, size] of [
    ["d", 86400],
    ["h", 3600],
    ["m", 60],
    ["s", 1]
  ]) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join("");
}

// src/errors.ts
var ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  interrupted: 130
};
var LoraError = class extends Error {
  code;
  exitCode;
  hint;
  constructor(message, options = {}) {
    super(message, options.cause === void 0 ? void 0 : { cause: options.cause });
    this.name = "LoraError";
    this.code = options.code ?? "failed";
    this.exitCode = options.exitCode ?? ExitCode.failed;
    this.hint = options.hint;
  }
};
var UsageError = class extends LoraError {
  constructor(message, options = {}) {
    super(message, { code: "usage", ...options, exitCode: ExitCode.usage });
    this.name = "UsageError";
  }
};

// src/cluster/contract.ts
import { z } from "zod";
var JOB_STATUSES = ["queued", "initializing", "running", "completed", "failed", "cancelled"];
var JobStatus = z.enum(JOB_STATUSES);
var TERMINAL_STATUSES = ["completed", "failed", "cancelled"];
function isTerminalStatus(status) {
  return TERMINAL_STATUSES.includes(status);
}
var JobId = z.guid();
var GpuConfig = z.looseObject({
  gpu_type: z.string().min(1),
  num_gpus: z.number().int().positive()
});
var SubmitRequest = z.object({
  job_id: JobId,
  dataset_url: z.url(),
  hyperparameters: z.record(z.string(), z.unknown()),
  gpu_config: GpuConfig,
  callback_url: z.url().optional()
});
var SubmitResponse = z.object({
  external_job_id: z.string().min(1)
});
var TrainingMetrics = z.object({
  training_loss: z.number(),
  validation_loss: z.number().optional(),
  learning_rate: z.number().nonnegative(),
  gradient_norm: z.number().nonnegative().optional(),
  throughput: z.number().nonnegative(),
  gpu_utilization: z.number().min(0).max(100)
});
var ArtifactFile = z.object({
  url: z.url(),
  size: z.number().int().nonnegative()
});
var Artifacts = z.object({
  adapter_url: z.url(),
  adapter_size: z.number().int().nonnegative(),
  validation_images: z.array(ArtifactFile)
});
var StatusResponse = z.object({
  status: JobStatus,
  progress: z.number().min(0).max(100),
  current_epoch: z.number().int().nonnegative(),
  current_step: z.number().int().nonnegative(),
  stage: z.string(),
  total_epochs: z.number().int().positive().optional(),
  total_steps: z.number().int().positive().optional(),
  metrics: TrainingMetrics.optional(),
  error_message: z.string().optional(),
  artifacts: Artifacts.optional()
}).superRefine((body, ctx) => {
  if (body.status === "completed" && body.artifacts === void 0) {
    ctx.addIssue({ code: "custom", path: ["artifacts"], message: 'is required when status is "completed"' });
  }
});
var CancelResponse = z.object({
  external_job_id: z.string().min(1),
  status: JobStatus
});
var JobSummary = z.object({
  // Any string: the cluster may run jobs that are not ours, and orphan detection
  // must still see them.
  job_id: z.string().min(1),
  external_job_id: z.string().min(1),
  status: JobStatus,
  started_at: z.iso.datetime({ offset: true })
});
var ListJobsResponse = z.object({
  jobs: z.array(JobSummary)
});
var ErrorBody = z.object({ error: z.string() });
var ENDPOINTS = {
  submit: "POST /training/submit",
  status: (externalId) => `GET /training/status/${externalId}`,
  cancel: (externalId) => `POST /training/cancel/${externalId}`,
  jobs: (active) => active ? "GET /training/jobs?active=true" : "GET /training/jobs"
};
function describeIssue(error) {
  const issue = error.issues[0];
  if (!issue) return "the body does not match the contract";
  const where = issue.path.length === 0 ? "the body" : `field "${formatPath(issue.path)}"`;
  switch (issue.code) {
    case "invalid_type": {
      const input = issue.input;
      if (input === void 0 && issue.path.length > 0) return `${where} is missing`;
      return `${where} expected ${issue.expected}${input === void 0 ? "" : `, got ${typeName(input)}`}`;
    }
    case "invalid_value": {
      const input = issue.input;
      const got = input === void 0 ? "" : `, got ${truncate(JSON.stringify(input) ?? String(input), 40)}`;
      return `${where} expected one of ${issue.values.map((v) => String(v)).join(", ")}${got}`;
    }
    case "custom":
      return `${where} ${issue.message}`;
    default:
      return `${where} ${issue.message.charAt(0).toLowerCase()}${issue.message.slice(1)}`;
  }
}
function formatPath(path) {
  let text = "";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else text += text === "" ? String(key) : `.${String(key)}`;
  }
  return text;
}
function truncate(text, max) {
  return text.length <= max ? text : `${text.slice(0, max - 1)}\u2026`;
}
function typeName(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

// src/cluster/client.ts
var COUNTS_AGAINST_CLUSTER = {
  network: true,
  timeout: true,
  http_5xx: true,
  rate_limited: true,
  malformed: true,
  unauthorized: false,
  client_error: false
};
var ClusterError = class extends LoraError {
  kind;
  cluster;
  endpoint;
  status;
  attempts;
  retryAfterMs;
  countsAgainstCluster;
  constructor(message, details) {
    super(message, { code: `cluster_${details.kind}`, hint: details.hint, cause: details.cause });
    this.name = "ClusterError";
    this.kind = details.kind;
    this.cluster = details.cluster;
    this.endpoint = details.endpoint;
    this.status = details.status;
    this.attempts = details.attempts;
    this.retryAfterMs = details.retryAfterMs;
    this.countsAgainstCluster = COUNTS_AGAINST_CLUSTER[details.kind];
  }
};
function isClusterError(error) {
  return error instanceof ClusterError;
}
var BACKOFF_MS = [2e3, 4e3, 8e3];
var JITTER_RATIO = 0.25;
var MAX_RETRY_AFTER_MS = 6e4;
var MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
function createClusterClient(config, deps) {
  const { clock } = deps;
  const random = deps.random ?? Math.random;
  const base = parseBaseUrl(config);
  const ownsDispatcher = deps.dispatcher === void 0;
  const dispatcher = deps.dispatcher ?? new Pool(base.origin, {
    connections: deps.connections ?? 16,
    connect: { timeout: config.connectTimeoutMs },
    headersTimeout: config.requestTimeoutMs,
    bodyTimeout: config.requestTimeoutMs,
    maxResponseSize: MAX_RESPONSE_BYTES
  });
  let closed = false;
  const redact = (text) => redactSecrets(text, config.apiKey);
  const hints = {
    network: `Check that clusters.${config.name}.url is right and that the cluster is up.`,
    timeout: `The cluster is slow or unreachable; if it is only slow, raise clusters.${config.name}.requestTimeout.`,
    http_5xx: "The cluster is failing on its side; try again later.",
    rate_limited: "The cluster is rate-limiting us; try again later.",
    unauthorized: config.apiKey === void 0 ? `The cluster requires an API key: set clusters.${config.name}.apiKey in the profile.` : `Check clusters.${config.name}.apiKey in the profile.`,
    client_error: "The cluster refused the request itself; check the job and its configuration.",
    malformed: "The cluster broke the contract; the call counts as a failure and the job is left unchanged."
  };
  function toError(failure, endpoint, attempts) {
    const tries = attempts > 1 ? ` (${attempts} attempts)` : "";
    return new ClusterError(redact(`GPU cluster "${config.name}" ${failure.describe}${tries}.`), {
      kind: failure.kind,
      cluster: config.name,
      endpoint,
      status: failure.status,
      attempts,
      retryAfterMs: failure.retryAfterMs,
      hint: hints[failure.kind],
      cause: failure.cause
    });
  }
  function backoffMs(retry) {
    const wait = BACKOFF_MS[Math.min(retry, BACKOFF_MS.length) - 1] ?? BACKOFF_MS[BACKOFF_MS.length - 1];
    return Math.round(wait + random() * wait * JITTER_RATIO);
  }
  async function attempt(call) {
    const headers = { accept: "application/json", "user-agent": "lora", ...call.headers };
    if (config.apiKey !== void 0 && config.apiKey !== "") headers.authorization = `Bearer ${config.apiKey}`;
    let body;
    if (call.body !== void 0) {
      body = JSON.stringify(call.body);
      headers["content-type"] = "application/json";
    }
    let statusCode;
    let responseHeaders;
    let text;
    const deadline = AbortSignal.timeout(config.requestTimeoutMs);
    const signal = call.signal === void 0 ? deadline : AbortSignal.any([call.signal, deadline]);
    try {
      const response = await dispatcher.request({
        origin: base.origin,
        path: base.pathPrefix + call.path,
        method: call.method,
        headers,
        body,
        headersTimeout: config.requestTimeoutMs,
        bodyTimeout: config.requestTimeoutMs,
        signal
      });
      statusCode = response.statusCode;
      responseHeaders = response.headers;
      text = await response.body.text();
    } catch (error) {
      if (call.signal?.aborted) throw call.signal.reason;
      if (deadline.aborted) return { ok: false, failure: requestTimeout(call.endpoint, config, error) };
      return { ok: false, failure: transportFailure(error, call.endpoint, config) };
    }
    return interpret(call, statusCode, responseHeaders, text);
  }
  function interpret(call, status, headers, text) {
    const { endpoint } = call;
    if (status >= 200 && status < 300) {
      const parsed = parseJsonBody(text, headers);
      if (!parsed.ok) {
        return fail({ kind: "malformed", describe: `sent a malformed answer to ${endpoint}: ${parsed.problem} (HTTP ${status})`, retryable: false, status });
      }
      const result = call.schema.safeParse(parsed.value, { reportInput: true });
      if (!result.success) {
        return fail({
          kind: "malformed",
          describe: `sent a malformed answer to ${endpoint}: ${describeIssue(result.error)}`,
          retryable: false,
          status,
          cause: result.error
        });
      }
      return { ok: true, value: result.data };
    }
    const said = serverMessage(text, headers);
    const suffix = said === void 0 ? "" : `: ${said}`;
    if (status === 401 || status === 403) {
      return fail({ kind: "unauthorized", describe: `rejected our credentials for ${endpoint} (HTTP ${status})`, retryable: false, status });
    }
    if (status === 429 || status === 503) {
      const retryAfterMs = parseRetryAfter(headers["retry-after"], clock.now());
      const kind = status === 429 ? "rate_limited" : "http_5xx";
      const verb = status === 429 ? `rate-limited ${endpoint} (HTTP 429)` : `answered ${endpoint} with HTTP 503${suffix}`;
      if (retryAfterMs !== void 0 && retryAfterMs > MAX_RETRY_AFTER_MS) {
        return fail({ kind, describe: `${verb} and asked us to wait ${formatDuration(retryAfterMs)}`, retryable: false, status, retryAfterMs });
      }
      return fail({ kind, describe: verb, retryable: true, status, retryAfterMs });
    }
    if (status >= 500) {
      return fail({ kind: "http_5xx", describe: `answered ${endpoint} with HTTP ${status}${suffix}`, retryable: true, status });
    }
    if (status === 408) {
      return fail({ kind: "timeout", describe: `timed out ${endpoint} on its side (HTTP 408)`, retryable: true, status });
    }
    if (status >= 300 && status < 400) {
      return fail({ kind: "client_error", describe: `redirected ${endpoint} elsewhere (HTTP ${status}); the configured URL is probably out of date`, retryable: false, status });
    }
    return fail({ kind: "client_error", describe: `refused ${endpoint} with HTTP ${status}${suffix}`, retryable: false, status });
  }
  async function send(call) {
    for (let attempts = 1; ; attempts++) {
      const outcome = await attempt(call);
      if (outcome.ok) return outcome.value;
      const { failure } = outcome;
      if (!failure.retryable || attempts > call.retries || closed) throw toError(failure, call.endpoint, attempts);
      await clock.sleep(failure.retryAfterMs ?? backoffMs(attempts), call.signal);
    }
  }
  function refuse(endpoint, describe) {
    return new ClusterError(redact(`lora did not send ${endpoint} to GPU cluster "${config.name}": ${describe}.`), {
      kind: "client_error",
      cluster: config.name,
      endpoint,
      attempts: 0,
      hint: "This is a bug in the caller: the request breaks the cluster contract."
    });
  }
  function jobPath(action, externalJobId) {
    if (typeof externalJobId !== "string" || externalJobId === "") {
      throw refuse(ENDPOINTS[action]("<empty>"), "the external job id is empty");
    }
    return { path: `/training/${action}/${encodeURIComponent(externalJobId)}`, endpoint: ENDPOINTS[action](externalJobId) };
  }
  return {
    name: config.name,
    async submit(request, options = {}) {
      const checked = SubmitRequest.safeParse(request, { reportInput: true });
      if (!checked.success) throw refuse(ENDPOINTS.submit, describeIssue(checked.error));
      return send({
        method: "POST",
        path: "/training/submit",
        endpoint: ENDPOINTS.submit,
        schema: SubmitResponse,
        body: checked.data,
        // The cluster deduplicates on this key, which makes a retried submit safe.
        headers: { "idempotency-key": checked.data.job_id },
        retries: BACKOFF_MS.length,
        signal: options.signal
      });
    },
    async status(externalJobId, options = {}) {
      const { path, endpoint } = jobPath("status", externalJobId);
      return send({ method: "GET", path, endpoint, schema: StatusResponse, retries: BACKOFF_MS.length, signal: options.signal });
    },
    async cancel(externalJobId, options = {}) {
      const { path, endpoint } = jobPath("cancel", externalJobId);
      return send({ method: "POST", path, endpoint, schema: CancelResponse, retries: BACKOFF_MS.length, signal: options.signal });
    },
    async listJobs(query = {}, options = {}) {
      const active = query.active === true;
      const response = await send({
        method: "GET",
        path: active ? "/training/jobs?active=true" : "/training/jobs",
        endpoint: ENDPOINTS.jobs(active),
        schema: ListJobsResponse,
        retries: BACKOFF_MS.length,
        signal: options.signal
      });
      return response.jobs;
    },
    async ping(options = {}) {
      const started = clock.now().getTime();
      await send({
        method: "GET",
        path: "/training/jobs?active=true",
        endpoint: ENDPOINTS.jobs(true),
        schema: ListJobsResponse,
        // A health probe reports the cluster as it is now; retries would hide a blip
        // behind 14 seconds of waiting.
        retries: 0,
        signal: options.signal
      });
      return clock.now().getTime() - started;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (ownsDispatcher) await dispatcher.close();
    }
  };
}
function fail(failure) {
  return { ok: false, failure };
}
function parseBaseUrl(config) {
  let url;
  try {
    url = new URL(config.url);
  } catch {
    url = new URL("invalid:");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`clusters.${config.name}.url is not an http or https URL.`, {
      hint: 'Write it as https://host[:port][/prefix], or "simulator" for the built-in simulator.'
    });
  }
  return { origin: url.origin, pathPrefix: url.pathname.replace(/\/+$/, "") };
}
function parseJsonBody(text, headers) {
  const contentType = headerValue(headers["content-type"]) ?? "";
  const trimmed = text.trimStart();
  if (trimmed === "") return { ok: false, problem: "the body is empty" };
  if (/html/i.test(contentType) || trimmed.startsWith("<")) return { ok: false, problem: "HTML instead of JSON" };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, problem: "the body is not valid JSON" };
  }
}
function serverMessage(text, headers) {
  const parsed = parseJsonBody(text, headers);
  if (!parsed.ok) return void 0;
  const body = ErrorBody.safeParse(parsed.value);
  if (!body.success) return void 0;
  const message = body.data.error.replace(/\s+/g, " ").trim();
  return message.length > 200 ? `${message.slice(0, 199)}\u2026` : message;
}
function headerValue(value) {
  return Array.isArray(value) ? value[0] : value;
}
function parseRetryAfter(value, now) {
  const text = headerValue(value)?.trim();
  if (text === void 0 || text === "") return void 0;
  if (/^\d+$/.test(text)) return Number(text) * 1e3;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return void 0;
  return Math.max(0, at - now.getTime());
}
function errorCode(error) {
  const seen = /* @__PURE__ */ new Set();
  let current = error;
  while (current !== null && typeof current === "object" && !seen.has(current)) {
    seen.add(current);
    const code = current.code;
    if (typeof code === "string" && code !== "UND_ERR" && code !== "ERR_AGGREGATE") return code;
    const nested = current.errors;
    current = Array.isArray(nested) && nested.length > 0 ? nested[0] : current.cause;
  }
  return void 0;
}
var NETWORK_WORDS = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "DNS lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EPIPE: "connection closed while sending",
  UND_ERR_SOCKET: "the connection closed unexpectedly",
  UND_ERR_CLOSED: "the client is closed",
  UND_ERR_DESTROYED: "the client is closed"
};
function requestTimeout(endpoint, config, cause) {
  return { kind: "timeout", describe: `did not answer ${endpoint} within ${formatDuration(config.requestTimeoutMs)}`, retryable: true, cause };
}
function transportFailure(error, endpoint, config) {
  const code = errorCode(error);
  switch (code) {
    case "UND_ERR_CONNECT_TIMEOUT":
    case "ETIMEDOUT":
      return {
        kind: "timeout",
        describe: `could not be connected to for ${endpoint} within ${formatDuration(config.connectTimeoutMs)}`,
        retryable: true,
        cause: error
      };
    case "UND_ERR_HEADERS_TIMEOUT":
    case "UND_ERR_BODY_TIMEOUT":
      return requestTimeout(endpoint, config, error);
    case "UND_ERR_RES_EXCEEDED_MAX_SIZE":
      return {
        kind: "malformed",
        describe: `sent a malformed answer to ${endpoint}: larger than ${MAX_RESPONSE_BYTES / 1024 / 1024} MiB`,
        retryable: false,
        cause: error
      };
    default: {
      const words = code !== void 0 && NETWORK_WORDS[code] || code || "network error";
      return { kind: "network", describe: `could not be reached for ${endpoint}: ${words}`, retryable: true, cause: error };
    }
  }
}
function redactSecrets(text, apiKey) {
  let result = text.replace(/(\bhttps?:\/\/[^\s?#"'<>]*)\?[^\s"'<>]*/gi, "$1?[redacted]");
  if (apiKey !== void 0 && apiKey.length >= 4) result = result.split(apiKey).join("[redacted]");
  return result;
}

// src/cluster/simulator.ts
import { createServer } from "node:http";

// src/cluster/simulator-model.ts
import { createHash } from "node:crypto";
var GPU_SLOWNESS = {
  "h100": 0.55,
  "a100-80gb": 1,
  "a100": 1,
  "a100-40gb": 1.1,
  "a10g": 2.4,
  "l4": 3
};
var A100_TOKENS_PER_SECOND = 3e3;
var FAILURE_MESSAGES = [
  "CUDA out of memory: tried to allocate 2.00 GiB on GPU 0",
  "NCCL timeout in all_reduce after 1800 seconds",
  "training loss became NaN; the run was stopped",
  "worker node lost: preempted by the scheduler",
  "dataset download failed: HTTP 403 from storage"
];
function hashUnit(...parts) {
  const digest = createHash("sha256").update(parts.join("\0")).digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}
function hashHex(length, ...parts) {
  return createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, length);
}
function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = state + 1831565813 >>> 0;
    let t = state;
    t = Math.imul(t ^ t >>> 15, t | 1);
    t ^= t + Math.imul(t ^ t >>> 7, t | 61);
    return ((t ^ t >>> 14) >>> 0) / 4294967296;
  };
}
function intParam(value, min, max) {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max ? value : void 0;
}
function numberParam(value, min, max) {
  return typeof value === "number" && Number.isFinite(value) && value > min && value <= max ? value : void 0;
}
function drawFate(seed, jobId, rates) {
  const draw = hashUnit(seed, jobId, "fate");
  if (draw < rates.jobFailRate) return "fail";
  if (draw < rates.jobFailRate + rates.neverFinishRate) return "never";
  return "complete";
}
function planJob(request, seed, fate) {
  const draw = (label) => hashUnit(seed, request.job_id, label);
  const hp = request.hyperparameters;
  const totalEpochs = intParam(hp.num_epochs, 1, 1e3) ?? 3;
  const batchSize = intParam(hp.batch_size, 1, 65536) ?? 4;
  const stepsPerEpoch = intParam(hp.steps_per_epoch, 1, 1e7) ?? Math.max(10, Math.round((120 + 120 * draw("steps")) * 4 / batchSize));
  const totalSteps = totalEpochs * stepsPerEpoch;
  const gpus = request.gpu_config.num_gpus;
  const slowness = GPU_SLOWNESS[request.gpu_config.gpu_type.toLowerCase()] ?? 1;
  const epochMs = (10 + 10 * draw("pace")) * 6e4;
  const trainingMs = Math.round(totalEpochs * epochMs * slowness / gpus ** 0.85);
  const stopFraction = fate === "fail" ? 0.1 + 0.7 * draw("fail-at") : 0.3 + 0.6 * draw("stall-at");
  const failure = FAILURE_MESSAGES[Math.floor(draw("error") * FAILURE_MESSAGES.length)] ?? FAILURE_MESSAGES[0];
  return {
    totalEpochs,
    stepsPerEpoch,
    totalSteps,
    queuedMs: Math.round(5e3 + 15e3 * draw("queued")),
    preparingMs: Math.round(6e4 + 6e4 * draw("preparing")),
    trainingMs,
    validatingMs: Math.round(45e3 + 3e4 * draw("validating")),
    savingMs: Math.round(2e4 + 1e4 * draw("saving")),
    baseLearningRate: numberParam(hp.learning_rate, 0, 1) ?? 2e-4,
    warmupSteps: intParam(hp.warmup_steps, 0, totalSteps) ?? Math.max(1, Math.round(totalSteps * 0.05)),
    initialLoss: 2 + 0.8 * draw("initial-loss"),
    floorLoss: 0.3 + 0.3 * draw("floor-loss"),
    decay: (2.5 + 1.5 * draw("decay")) / totalSteps,
    throughput: A100_TOKENS_PER_SECOND / slowness * gpus ** 0.9 * (0.9 + 0.2 * draw("throughput")),
    fate,
    stopStep: Math.max(1, Math.floor(totalSteps * stopFraction)),
    errorMessage: fate === "fail" ? failure : "",
    loraRank: intParam(hp.lora_rank, 1, 1024) ?? 16,
    noiseKey: `${seed}\0${request.job_id}`
  };
}
function round(value, digits) {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
function significant(value, digits) {
  return value === 0 ? 0 : Number(value.toPrecision(digits));
}
function learningRateAt(plan, step) {
  if (step < plan.warmupSteps) return plan.baseLearningRate * (step + 1) / (plan.warmupSteps + 1);
  const span = Math.max(1, plan.totalSteps - plan.warmupSteps);
  const done = Math.min(1, (step - plan.warmupSteps) / span);
  return plan.baseLearningRate * 0.5 * (1 + Math.cos(Math.PI * done));
}
function smoothLoss(plan, step) {
  return plan.floorLoss + (plan.initialLoss - plan.floorLoss) * Math.exp(-plan.decay * step);
}
function noise(plan, step, channel) {
  return hashUnit(plan.noiseKey, channel, step) - 0.5;
}
function metricsAt(plan, step, gpuUtilization) {
  const completedEpochs = Math.floor(step / plan.stepsPerEpoch);
  const metrics = {
    training_loss: round(smoothLoss(plan, step) * (1 + 0.08 * noise(plan, step, "loss")), 4),
    learning_rate: significant(learningRateAt(plan, step), 6),
    gradient_norm: round((0.4 + 1.6 * Math.exp(-6 * step / plan.totalSteps)) * (1 + 0.3 * noise(plan, step, "grad")), 4),
    throughput: Math.round(plan.throughput * (1 + 0.05 * noise(plan, step, "throughput"))),
    gpu_utilization: gpuUtilization ?? round(92 + 6 * noise(plan, step, "gpu"), 1)
  };
  if (completedEpochs >= 1) {
    const evalStep = completedEpochs * plan.stepsPerEpoch;
    const overfit = 1.04 + 0.04 * completedEpochs / plan.totalEpochs;
    metrics.validation_loss = round(smoothLoss(plan, evalStep) * overfit * (1 + 0.02 * noise(plan, evalStep, "val")), 4);
  }
  return metrics;
}
function epochOf(plan, step) {
  return Math.min(plan.totalEpochs, Math.floor(step / plan.stepsPerEpoch) + 1);
}
function trainingProgress(plan, step) {
  return round(95 * step / plan.totalSteps, 2);
}
function statusAt(plan, elapsedMs, cancelledAfterMs) {
  if (cancelledAfterMs !== void 0 && elapsedMs >= cancelledAfterMs) {
    const frozen = statusAt(plan, cancelledAfterMs);
    return { ...frozen, status: "cancelled", stage: "cancelled" };
  }
  const totals = { total_epochs: plan.totalEpochs, total_steps: plan.totalSteps };
  const trainStart = plan.queuedMs + plan.preparingMs;
  if (elapsedMs < plan.queuedMs) {
    return { status: "queued", stage: "queued", progress: 0, current_epoch: 0, current_step: 0, ...totals };
  }
  if (elapsedMs < trainStart) {
    return { status: "initializing", stage: "preparing", progress: 0, current_epoch: 0, current_step: 0, ...totals };
  }
  const stepNow = Math.min(plan.totalSteps, Math.floor(plan.totalSteps * (elapsedMs - trainStart) / plan.trainingMs));
  if (plan.fate !== "complete" && stepNow >= plan.stopStep) {
    const step = plan.stopStep;
    const base = { progress: trainingProgress(plan, step), current_epoch: epochOf(plan, step), current_step: step, ...totals };
    if (plan.fate === "fail") {
      return { status: "failed", stage: "training", ...base, metrics: metricsAt(plan, step, 0), error_message: plan.errorMessage };
    }
    return { status: "running", stage: "training", ...base, metrics: { ...metricsAt(plan, step, 0), throughput: 0 } };
  }
  if (stepNow < plan.totalSteps) {
    return {
      status: "running",
      stage: "training",
      progress: trainingProgress(plan, stepNow),
      current_epoch: epochOf(plan, stepNow),
      current_step: stepNow,
      ...totals,
      metrics: metricsAt(plan, stepNow)
    };
  }
  const finished = { current_epoch: plan.totalEpochs, current_step: plan.totalSteps, ...totals };
  const validateEnd = trainStart + plan.trainingMs + plan.validatingMs;
  if (elapsedMs < validateEnd) {
    const share = (elapsedMs - trainStart - plan.trainingMs) / plan.validatingMs;
    return { status: "running", stage: "validating", progress: round(95 + 3 * share, 2), ...finished, metrics: metricsAt(plan, plan.totalSteps, 65) };
  }
  if (elapsedMs < validateEnd + plan.savingMs) {
    const share = (elapsedMs - validateEnd) / plan.savingMs;
    return { status: "running", stage: "saving", progress: round(98 + 1.9 * share, 2), ...finished, metrics: metricsAt(plan, plan.totalSteps, 15) };
  }
  return { status: "completed", stage: "completed", progress: 100, ...finished, metrics: metricsAt(plan, plan.totalSteps) };
}

// src/cluster/simulator-artifacts.ts
var VALIDATION_IMAGE_COUNT = 3;
var ADAPTER_WIDTH = 64;
function seededBytes(length, ...key) {
  const next = mulberry32(Math.floor(hashUnit(...key) * 2 ** 32));
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(next() * 256);
  return bytes;
}
function adapterBytes(externalJobId, jobId, rank) {
  const tensorBytes = rank * ADAPTER_WIDTH * 2;
  const header = JSON.stringify({
    __metadata__: { format: "pt", producer: "lora-simulator", job_id: jobId, lora_rank: String(rank) },
    "base_model.model.layers.0.self_attn.q_proj.lora_A.weight": { dtype: "F16", shape: [rank, ADAPTER_WIDTH], data_offsets: [0, tensorBytes] },
    "base_model.model.layers.0.self_attn.q_proj.lora_B.weight": {
      dtype: "F16",
      shape: [ADAPTER_WIDTH, rank],
      data_offsets: [tensorBytes, 2 * tensorBytes]
    }
  });
  const headerBytes = Buffer.from(header, "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.length));
  return Buffer.concat([length, headerBytes, seededBytes(2 * tensorBytes, externalJobId, "adapter")]);
}
var BitWriter = class {
  bytes = [];
  current = 0;
  filled = 0;
  write(value, bits) {
    for (let i = bits - 1; i >= 0; i--) {
      this.current = this.current << 1 | value >> i & 1;
      if (++this.filled === 8) this.flushByte();
    }
  }
  finish() {
    while (this.filled !== 0) this.write(1, 1);
    return Buffer.from(this.bytes);
  }
  flushByte() {
    this.bytes.push(this.current);
    if (this.current === 255) this.bytes.push(0);
    this.current = 0;
    this.filled = 0;
  }
};
function segment(marker, payload) {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(marker, 0);
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([head, payload]);
}
function validationImageBytes(externalJobId, index) {
  const blocks = 8;
  const size = blocks * 8;
  const base = 60 + 120 * hashUnit(externalJobId, "image", index);
  const tilt = 8 + 8 * hashUnit(externalJobId, "tilt", index);
  const grain = mulberry32(Math.floor(hashUnit(externalJobId, "grain", index) * 2 ** 32));
  const dcTable = Buffer.from([0, 0, 0, 0, 12, ...new Array(12).fill(0), ...Array.from({ length: 12 }, (_, i) => i)]);
  const acTable = Buffer.from([16, 1, ...new Array(15).fill(0), 0]);
  const bits = new BitWriter();
  let previousDc = 0;
  for (let by = 0; by < blocks; by++) {
    for (let bx = 0; bx < blocks; bx++) {
      const level = Math.max(8, Math.min(247, Math.round(base + tilt * (bx - by) + 10 * (grain() - 0.5))));
      const dc = 8 * (level - 128);
      const diff = dc - previousDc;
      previousDc = dc;
      const magnitude = Math.abs(diff);
      const category = magnitude === 0 ? 0 : Math.floor(Math.log2(magnitude)) + 1;
      bits.write(category, 4);
      if (category > 0) bits.write(diff > 0 ? diff : diff - 1 + (1 << category), category);
      bits.write(0, 1);
    }
  }
  const sizeBytes = Buffer.alloc(4);
  sizeBytes.writeUInt16BE(size, 0);
  sizeBytes.writeUInt16BE(size, 2);
  return Buffer.concat([
    Buffer.from([255, 216]),
    segment(65534, Buffer.from(`lora-simulator ${externalJobId} validation ${index}`, "latin1")),
    segment(65499, Buffer.from([0, ...new Array(64).fill(1)])),
    segment(65472, Buffer.concat([Buffer.from([8]), sizeBytes, Buffer.from([1, 1, 17, 0])])),
    segment(65476, dcTable),
    segment(65476, acTable),
    segment(65498, Buffer.from([1, 1, 0, 0, 63, 0])),
    bits.finish(),
    Buffer.from([255, 217])
  ]);
}

// src/cluster/simulator-state.ts
import { readFile, rename, writeFile, unlink } from "node:fs/promises";
import { z as z2 } from "zod";
var StoredJob = z2.object({
  external_job_id: z2.string().min(1),
  job_id: z2.string().min(1),
  request: SubmitRequest,
  submitted_at: z2.iso.datetime({ offset: true }),
  /** The seed the job was planned with, so that restarting with another seed keeps it. */
  seed: z2.number().int(),
  fate: z2.enum(["complete", "fail", "never"]),
  /** Simulated ms after submission at which the job was cancelled. */
  cancelled_after_ms: z2.number().nonnegative().optional(),
  submissions: z2.number().int().nonnegative()
});
var StateFile = z2.object({
  version: z2.literal(1),
  jobs: z2.array(StoredJob)
});
async function loadState(path) {
  let text;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (error.code === "ENOENT") return [];
    throw new LoraError(`The simulator state file ${path} could not be read.`, { cause: error });
  }
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new LoraError(`The simulator state file ${path} is not valid JSON.`, {
      hint: "Delete it to start the simulator with no jobs.",
      cause: error
    });
  }
  const result = StateFile.safeParse(parsed);
  if (!result.success) {
    throw new LoraError(`The simulator state file ${path} does not hold simulator state.`, {
      hint: "Delete it to start the simulator with no jobs.",
      cause: result.error
    });
  }
  return result.data.jobs;
}
var StateWriter = class {
  constructor(path, snapshot, debounceMs = 50) {
    this.path = path;
    this.snapshot = snapshot;
    this.debounceMs = debounceMs;
  }
  path;
  snapshot;
  debounceMs;
  timer;
  writing = Promise.resolve();
  dirty = false;
  sequence = 0;
  schedule() {
    this.dirty = true;
    if (this.timer !== void 0) return;
    this.timer = setTimeout(() => {
      this.timer = void 0;
      void this.flush().catch(() => {
        this.dirty = true;
      });
    }, this.debounceMs);
    this.timer.unref();
  }
  /** Writes now if anything changed; resolves once the state is on disk. */
  flush() {
    if (this.timer !== void 0) {
      clearTimeout(this.timer);
      this.timer = void 0;
    }
    this.writing = this.writing.catch(() => void 0).then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      const body = `${JSON.stringify({ version: 1, jobs: this.snapshot() }, null, 2)}
`;
      const temporary = `${this.path}.${process.pid}.${++this.sequence}.tmp`;
      try {
        await writeFile(temporary, body, "utf8");
        await rename(temporary, this.path);
      } catch (error) {
        this.dirty = true;
        await unlink(temporary).catch(() => void 0);
        throw error;
      }
    });
    return this.writing;
  }
};

// src/cluster/simulator.ts
var MAX_BODY_BYTES = 1024 * 1024;
var MAX_GPUS_PER_JOB = 8;
var MAX_EPOCHS = 100;
var RATE_KEYS = ["failRate", "rateLimitRate", "malformedRate", "hangRate", "jobFailRate", "neverFinishRate"];
var HTML_ERROR_PAGE = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n";
var HttpProblem = class extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
  status;
};
function checkFaults(faults) {
  for (const key of RATE_KEYS) {
    const value = faults[key];
    if (value !== void 0 && !(value >= 0 && value <= 1)) {
      throw new UsageError(`The simulator's ${key} must be between 0 and 1, got ${value}.`);
    }
  }
  if (faults.latencyMs !== void 0 && !(faults.latencyMs >= 0)) {
    throw new UsageError(`The simulator's latencyMs must be 0 or more, got ${faults.latencyMs}.`);
  }
}
function withoutQuery(url) {
  const parsed = new URL(url);
  parsed.search = "";
  return parsed.toString();
}
async function startSimulator(options = {}) {
  checkFaults(options);
  const clock = options.clock ?? systemClock;
  const speed = options.speed ?? 1;
  if (!(speed > 0)) throw new UsageError(`The simulator's speed must be above 0, got ${speed}.`);
  const seed = Math.trunc(options.seed ?? 0);
  const host = options.host ?? "127.0.0.1";
  const apiKey = options.apiKey;
  const faults = {
    failRate: options.failRate ?? 0,
    rateLimitRate: options.rateLimitRate ?? 0,
    retryAfter: options.retryAfter,
    latencyMs: options.latencyMs ?? 0,
    malformedRate: options.malformedRate ?? 0,
    malformedStyle: options.malformedStyle ?? "mixed",
    hangRate: options.hangRate ?? 0,
    jobFailRate: options.jobFailRate ?? 0,
    neverFinishRate: options.neverFinishRate ?? 0
  };
  const faultDraw = mulberry32(seed ^ 1592614637);
  const byExternalId = /* @__PURE__ */ new Map();
  const byJobId = /* @__PURE__ */ new Map();
  const plans = /* @__PURE__ */ new Map();
  const artifactCache = /* @__PURE__ */ new Map();
  for (const job of options.stateFile === void 0 ? [] : await loadState(options.stateFile)) {
    byExternalId.set(job.external_job_id, job);
    byJobId.set(job.job_id, job);
  }
  const writer = options.stateFile === void 0 ? void 0 : new StateWriter(options.stateFile, () => [...byExternalId.values()]);
  let baseUrl = "";
  let connectionCount = 0;
  let requestCount = 0;
  let closing = false;
  const heldSockets = /* @__PURE__ */ new Set();
  const latencyTimers = /* @__PURE__ */ new Set();
  function planOf(job) {
    let plan = plans.get(job.external_job_id);
    if (plan === void 0) {
      plan = planJob(job.request, job.seed, job.fate);
      plans.set(job.external_job_id, plan);
    }
    return plan;
  }
  function elapsedMs(job) {
    return Math.max(0, (clock.now().getTime() - Date.parse(job.submitted_at)) * speed);
  }
  function artifactToken(externalJobId) {
    return hashHex(32, seed, externalJobId, "artifact-token");
  }
  function filesOf(job) {
    let files = artifactCache.get(job.external_job_id);
    if (files === void 0) {
      files = {
        adapter: adapterBytes(job.external_job_id, job.job_id, planOf(job).loraRank),
        images: Array.from({ length: VALIDATION_IMAGE_COUNT }, (_, i) => validationImageBytes(job.external_job_id, i + 1))
      };
      artifactCache.set(job.external_job_id, files);
    }
    return files;
  }
  function artifactsOf(job) {
    const files = filesOf(job);
    const id = encodeURIComponent(job.external_job_id);
    const token = `?token=${artifactToken(job.external_job_id)}`;
    return {
      adapter_url: `${baseUrl}/artifacts/${id}/adapter.safetensors${token}`,
      adapter_size: files.adapter.length,
      validation_images: files.images.map((bytes, i) => ({ url: `${baseUrl}/artifacts/${id}/validation/${i + 1}.jpg${token}`, size: bytes.length }))
    };
  }
  function statusOf(job) {
    const status = statusAt(planOf(job), elapsedMs(job), job.cancelled_after_ms);
    return status.status === "completed" ? { ...status, artifacts: artifactsOf(job) } : status;
  }
  function findJob(rawId) {
    let id;
    try {
      id = decodeURIComponent(rawId);
    } catch {
      throw new HttpProblem(400, "the external job id is not valid URL encoding");
    }
    const job = byExternalId.get(id);
    if (job === void 0) throw new HttpProblem(404, `unknown external_job_id "${id.slice(0, 100)}"`);
    return job;
  }
  async function readJson(req) {
    const chunks = [];
    let size = 0;
    for await (const chunk of req) {
      const buffer = chunk;
      size += buffer.length;
      if (size > MAX_BODY_BYTES) throw new HttpProblem(413, `the body is larger than ${MAX_BODY_BYTES} bytes`);
      chunks.push(buffer);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      throw new HttpProblem(400, "the body is not valid JSON");
    }
  }
  async function submit(req) {
    const checked = SubmitRequest.safeParse(await readJson(req), { reportInput: true });
    if (!checked.success) throw new HttpProblem(400, `invalid submission: ${describeIssue(checked.error)}`);
    const request = checked.data;
    const key = req.headers["idempotency-key"];
    if (typeof key !== "string" || key === "") throw new HttpProblem(400, "the Idempotency-Key header is required");
    if (key !== request.job_id) throw new HttpProblem(400, "the Idempotency-Key header must equal job_id");
    if (request.gpu_config.num_gpus > MAX_GPUS_PER_JOB) {
      throw new HttpProblem(400, `at most ${MAX_GPUS_PER_JOB} GPUs per job, got ${request.gpu_config.num_gpus}`);
    }
    const epochs = request.hyperparameters.num_epochs;
    if (epochs !== void 0 && !(typeof epochs === "number" && Number.isInteger(epochs) && epochs >= 1 && epochs <= MAX_EPOCHS)) {
      throw new HttpProblem(400, `hyperparameters.num_epochs must be a whole number from 1 to ${MAX_EPOCHS}`);
    }
    const existing = byJobId.get(key);
    if (existing !== void 0) {
      existing.submissions += 1;
      writer?.schedule();
      return { status: 200, body: { external_job_id: existing.external_job_id } };
    }
    const job = {
      external_job_id: `sim-${hashHex(16, seed, request.job_id, "external-id")}`,
      job_id: request.job_id,
      request: { ...request, dataset_url: withoutQuery(request.dataset_url) },
      submitted_at: clock.now().toISOString(),
      seed,
      fate: drawFate(seed, request.job_id, faults),
      submissions: 1
    };
    byExternalId.set(job.external_job_id, job);
    byJobId.set(job.job_id, job);
    writer?.schedule();
    return { status: 201, body: { external_job_id: job.external_job_id } };
  }
  function cancel(job) {
    const current = statusOf(job);
    if (!isTerminalStatus(current.status)) {
      job.cancelled_after_ms = elapsedMs(job);
      writer?.schedule();
    }
    const body = { external_job_id: job.external_job_id, status: statusOf(job).status };
    return { status: 200, body };
  }
  function listJobs(activeOnly) {
    const jobs = [];
    for (const job of byExternalId.values()) {
      const { status } = statusOf(job);
      if (activeOnly && isTerminalStatus(status)) continue;
      jobs.push({ job_id: job.job_id, external_job_id: job.external_job_id, status, started_at: job.submitted_at });
    }
    return { status: 200, body: { jobs } };
  }
  async function route(req, url) {
    const method = req.method ?? "GET";
    const path = url.pathname;
    const allow = (expected) => {
      if (method !== expected) throw new HttpProblem(405, `${path} takes ${expected}`);
    };
    if (path === "/training/submit") {
      allow("POST");
      return submit(req);
    }
    req.resume();
    let match;
    if (match = /^\/training\/status\/([^/]+)$/.exec(path)) {
      allow("GET");
      return { status: 200, body: statusOf(findJob(match[1])) };
    }
    if (match = /^\/training\/cancel\/([^/]+)$/.exec(path)) {
      allow("POST");
      return cancel(findJob(match[1]));
    }
    if (path === "/training/jobs") {
      allow("GET");
      const active = url.searchParams.get("active");
      return listJobs(active === "true" || active === "1");
    }
    throw new HttpProblem(404, `no such endpoint: ${method} ${path}`);
  }
  function serveArtifact(req, res, url) {
    req.resume();
    const match = /^\/artifacts\/([^/]+)\/(adapter\.safetensors|validation\/(\d+)\.jpg)$/.exec(url.pathname);
    if (match === null || req.method !== "GET" && req.method !== "HEAD") {
      return sendJson(res, 404, { error: "no such artifact" });
    }
    const job = findJob(match[1]);
    if (url.searchParams.get("token") !== artifactToken(job.external_job_id)) {
      return sendJson(res, 403, { error: "missing or wrong artifact token" });
    }
    if (statusOf(job).status !== "completed") return sendJson(res, 404, { error: "the job has no artifacts yet" });
    const files = filesOf(job);
    const bytes = match[3] === void 0 ? files.adapter : files.images[Number(match[3]) - 1];
    if (bytes === void 0) return sendJson(res, 404, { error: "no such validation image" });
    res.writeHead(200, {
      "content-type": match[3] === void 0 ? "application/octet-stream" : "image/jpeg",
      "content-length": bytes.length
    });
    res.end(req.method === "HEAD" ? void 0 : bytes);
  }
  function sendMalformed(res, body) {
    const styles = ["field", "html", "truncated"];
    const style = faults.malformedStyle === "mixed" ? styles[Math.floor(faultDraw() * styles.length)] : faults.malformedStyle;
    if (style === "html") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(HTML_ERROR_PAGE) });
      res.end(HTML_ERROR_PAGE);
      return;
    }
    if (style === "truncated") {
      const text = JSON.stringify(body);
      const cut = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(cut) });
      res.end(cut);
      return;
    }
    sendJson(res, 200, corruptOneField(body));
  }
  async function handle(req, res) {
    requestCount += 1;
    const url = new URL(req.url ?? "/", "http://simulator");
    if (url.pathname.startsWith("/artifacts/")) return serveArtifact(req, res, url);
    if (faults.latencyMs > 0) {
      await new Promise((resolve) => {
        const timer = setTimeout(() => {
          latencyTimers.delete(timer);
          resolve();
        }, faults.latencyMs);
        latencyTimers.add(timer);
      });
    }
    if (apiKey !== void 0 && req.headers.authorization !== `Bearer ${apiKey}`) {
      req.resume();
      return sendJson(res, 401, { error: "missing or wrong API key" });
    }
    const draws = { fail: faultDraw(), limit: faultDraw(), hang: faultDraw(), malformed: faultDraw() };
    const retryAfter = faults.retryAfter === void 0 ? {} : { "retry-after": String(faults.retryAfter) };
    if (draws.fail < faults.failRate) {
      req.resume();
      return sendJson(res, 503, { error: "the cluster is overloaded, try again later" }, retryAfter);
    }
    if (draws.limit < faults.rateLimitRate) {
      req.resume();
      return sendJson(res, 429, { error: "too many requests" }, retryAfter);
    }
    const reply = await route(req, url);
    if (draws.hang < faults.hangRate) {
      heldSockets.add(req.socket);
      req.socket.once("close", () => heldSockets.delete(req.socket));
      return;
    }
    if (draws.malformed < faults.malformedRate && reply.status < 300) return sendMalformed(res, reply.body);
    sendJson(res, reply.status, reply.body);
  }
  const server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      if (res.headersSent || res.destroyed) return;
      if (error instanceof HttpProblem) sendJson(res, error.status, { error: error.message });
      else sendJson(res, 500, { error: "internal simulator error" });
    });
  });
  server.on("connection", () => {
    connectionCount += 1;
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = server.address().port;
  baseUrl = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  return {
    url: baseUrl,
    port,
    async close() {
      if (closing) return;
      closing = true;
      for (const timer of latencyTimers) clearTimeout(timer);
      latencyTimers.clear();
      for (const socket of heldSockets) socket.destroy();
      heldSockets.clear();
      const closed = new Promise((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await writer?.flush();
    },
    submissions(jobId) {
      return byJobId.get(jobId)?.submissions ?? 0;
    },
    setFaults(partial) {
      checkFaults(partial);
      Object.assign(faults, partial);
    },
    connections: () => connectionCount,
    requests: () => requestCount
  };
}
function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...headers
  });
  res.end(text);
}
function corruptOneField(body) {
  if (body === null || typeof body !== "object") return "unexpected";
  const record = { ...body };
  const key = "progress" in record ? "progress" : Object.keys(record)[0];
  if (key === void 0) return "unexpected";
  const value = record[key];
  record[key] = typeof value === "number" ? String(value) : typeof value === "string" ? 0 : "unavailable";
  return record;
}

// bench/cluster.ts
var CALLS = 1e4;
var CONCURRENCY = 64;
var LATENCY_MS = 50;
var JOBS = 100;
var POOL_SIZES = [16, 64];
function percentile(sorted, share) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)];
}
async function run(pool) {
  const sim = await startSimulator({ latencyMs: LATENCY_MS, speed: 60, seed: 1 });
  const client = createClusterClient(
    { name: "bench", url: sim.url, connectTimeoutMs: 5e3, requestTimeoutMs: 3e4 },
    { clock: systemClock, connections: pool }
  );
  try {
    const ids = await Promise.all(
      Array.from({ length: JOBS }, async () => {
        const job = await client.submit({
          job_id: randomUUID(),
          dataset_url: "https://storage.example.com/lora-datasets/bench.jsonl",
          hyperparameters: { num_epochs: 3 },
          gpu_config: { gpu_type: "A100-80GB", num_gpus: 1 }
        });
        return job.external_job_id;
      })
    );
    const latencies = [];
    let errors = 0;
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < CALLS) {
          const id = ids[next++ % ids.length];
          const t0 = performance.now();
          try {
            await client.status(id);
            latencies.push(performance.now() - t0);
          } catch (error) {
            if (!isClusterError(error)) throw error;
            errors += 1;
          }
        }
      })
    );
    const seconds = (performance.now() - started) / 1e3;
    latencies.sort((a, b) => a - b);
    return {
      pool,
      seconds,
      callsPerSecond: CALLS / seconds,
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      max: latencies.at(-1) ?? Number.NaN,
      errors,
      connections: sim.connections()
    };
  } finally {
    await client.close();
    await sim.close();
  }
}
function table(rows2) {
  const header = ["pool size", "seconds", "calls/s", "ideal calls/s", "p50 ms", "p99 ms", "max ms", "errors", "TCP connections"];
  const lines = rows2.map((r) => [
    String(r.pool),
    r.seconds.toFixed(2),
    r.callsPerSecond.toFixed(0),
    (Math.min(r.pool, CONCURRENCY) * 1e3 / LATENCY_MS).toFixed(0),
    r.p50.toFixed(1),
    r.p99.toFixed(1),
    r.max.toFixed(1),
    String(r.errors),
    String(r.connections)
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells) => cells.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join("  ");
  return [format(header), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(format)].join("\n");
}
var rows = [];
for (const pool of POOL_SIZES) rows.push(await run(pool));
process.stdout.write(
  `GPU cluster client: ${CALLS} status calls, concurrency ${CONCURRENCY}, simulator latency ${LATENCY_MS} ms, Node ${process.version}

`
);
process.stdout.write(`${table(rows)}

`);
process.stdout.write('ideal calls/s = min(pool, concurrency) / latency; "TCP connections" counts all the simulator accepted, setup included.\n');
