/**
 * --scrape-metrics: GET pop3d's /metrics at a fixed interval over a scenario's
 * whole window (warm-up included), as a Prometheus far more eager than any
 * real one would, so that a cost per scrape shows in the server CPU per session.
 */
import { get } from 'node:http';
import type { Window } from './protocol';

/** Resolves at the end of `window` with the scrapes made and those that failed (not 200, or no answer). */
export function scrapeWhile(
  port: number,
  everyMs: number,
  window: Window,
): Promise<{ scrapes: number; failures: number }> {
  let scrapes = 0;
  let failures = 0;
  const once = () => {
    const request = get({ host: '127.0.0.1', port, path: '/metrics', timeout: everyMs * 10 }, (response) => {
      if (response.statusCode === 200) scrapes += 1;
      else failures += 1;
      response.resume();
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => (failures += 1));
  };
  const end = window.startAt + window.warmupMs + window.durationMs;
  return new Promise((resolve) => {
    const timer = setInterval(once, everyMs);
    setTimeout(
      () => {
        clearInterval(timer);
        resolve({ scrapes, failures });
      },
      Math.max(0, end - Date.now()),
    );
  });
}
