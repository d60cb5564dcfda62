/** The lab's progress lines: callers pass a logger (the CLI prints, tests stay quiet). */
export type Logger = (line: string) => void;
export const quiet: Logger = () => {};

/** Seconds since `since` (a Date.now() value), as the lab's progress lines print them. */
export function ms(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(2)} s`;
}
