/** Human formatting of sizes, rates and durations for progress and summaries. */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit === 0 || value >= 100 ? 0 : 1)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

/** Rate and time left for `done` of `total` bytes after `elapsedMs`. */
export function rateAndEta(done: number, total: number, elapsedMs: number): string {
  if (elapsedMs < 500 || done === 0) return '';
  const rate = (done / elapsedMs) * 1000;
  const eta = total > done ? ((total - done) / rate) * 1000 : 0;
  return `${formatBytes(rate)}/s, ${formatDuration(eta)} left`;
}
