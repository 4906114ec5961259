/*
 * poll.js: a hook that re-reads something every interval while the page is
 * open, never two reads at once, so a timeline follows a deployment's states
 * without a reload. kick() reads at once (after the user changed something).
 */
import { useEffect, useRef, useState } from 'preact/hooks';

export function usePoll(fn, ms, deps = []) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const busy = useRef(false);
  const alive = useRef(true);
  const fnRef = useRef(fn);
  fnRef.current = fn;

  async function tick() {
    if (busy.current || !alive.current) return;
    busy.current = true;
    try {
      const v = await fnRef.current();
      if (alive.current) {
        setData(v);
        setError(null);
      }
    } catch (e) {
      if (alive.current) setError(e);
    } finally {
      busy.current = false;
    }
  }
  useEffect(() => {
    alive.current = true;
    tick();
    const t = setInterval(tick, ms);
    return () => {
      alive.current = false;
      clearInterval(t);
    };
  }, deps);
  return [data, error, tick];
}
