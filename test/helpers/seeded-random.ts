/** A deterministic uniform [0, 1) source (Park–Miller), so jitter in tests is repeatable. */
export function seededRandom(seed: number, multiplier = 48271): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (s * multiplier) % 2147483647) - 1) / 2147483646;
}
