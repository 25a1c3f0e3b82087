declare module '*.sql' {
  const text: string
  export default text
}

/** Set by the build from package.json. */
declare const LORA_VERSION: string

/** Where the validation worker's script is, relative to the module that starts it (src/datasets/pool.ts). */
declare const LORA_VALIDATE_WORKER: string
