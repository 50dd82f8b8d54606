// Shared timing helper for the benchmarks (not a bench itself: it exports no `benches`).

/** Median wall time (ms) of `runs` calls of `fn`. */
export function medianMs(runs: number, fn: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[runs >> 1]!;
}
