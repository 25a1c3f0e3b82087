declare module 'asciichart' {
  export interface PlotConfig {
    height?: number
    offset?: number
    padding?: string
    min?: number
    max?: number
    colors?: string[]
    format?: (value: number, index: number) => string
  }
  export function plot(series: number[] | number[][], config?: PlotConfig): string
  export const green: string
  export const yellow: string
  export const red: string
  export const blue: string
  export const cyan: string
  export const magenta: string
  export const reset: string
  export const lightgray: string
  export const darkgray: string
  export const defaultColor: string
}
