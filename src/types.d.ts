declare module '*.sql' {
  const text: string
  export default text
}

/** Set by the build from package.json. */
declare const LORA_VERSION: string

/** Set by the build: which build this is (the version and when it was built); absent when running from source. */
declare const LORA_BUILD: string | undefined

/** Where the validation worker's script is, relative to the module that starts it (src/datasets/pool.ts). */
declare const LORA_VALIDATE_WORKER: string
