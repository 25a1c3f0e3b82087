export declare const PATCHED_DRIVER: { name: string; version: string; file: RegExp }
export declare function patchDriverConnection(source: string, id?: string): string
