declare module '*.sql' {
  const text: string
  export default text
}

/** Set by the build from package.json. */
declare const LORA_VERSION: string
