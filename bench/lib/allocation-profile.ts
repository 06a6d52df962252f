// Where a server process allocates, for finding what drives its garbage
// collection: V8's sampling heap profiler with the objects that minor and
// major GCs collected kept in (Node's --heap-prof keeps only the survivors).
// Started when BENCH_SERVER_ALLOC_PROFILE names a folder; the profile is
// written there as <pid>.heapprofile (open it in Chrome DevTools' Memory tab).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';

/** Starts sampling; resolves with a function that writes the profile, or undefined when not asked for. */
export async function startAllocationProfile(): Promise<(() => Promise<void>) | undefined> {
  const folder = process.env.BENCH_SERVER_ALLOC_PROFILE;
  if (!folder) return undefined;
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 32 * 1024,
    includeObjectsCollectedByMinorGC: true,
    includeObjectsCollectedByMajorGC: true,
  });
  return async () => {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    writeFileSync(join(folder, `${process.pid}.heapprofile`), JSON.stringify(profile));
    session.disconnect();
  };
}
