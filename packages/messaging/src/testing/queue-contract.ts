import { type JobQueue, MissingJobHandlerError, type QueuedJob } from '../queue/types';

const until = async (check: () => boolean | Promise<boolean>, ms = 10000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** One suite for every queue driver. `factory(jobNames)` returns an unstarted queue. */
export function jobQueueContract(name: string, factory: (jobNames: string[]) => Promise<JobQueue>): void {
  describe(`job queue contract: ${name}`, () => {
    const open: JobQueue[] = [];
    const make = async (names: string[]) => {
      const q = await factory(names);
      open.push(q);
      return q;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((q) => q.close()));
    });

    it('refuses to start while a declared job has no handler', async () => {
      const q = await make(['a', 'b']);
      q.register('a', () => Promise.resolve());
      await expect(q.start()).rejects.toBeInstanceOf(MissingJobHandlerError);
    });

    it('processes a job and deduplicates by job id', async () => {
      const q = await make(['work']);
      const seen: unknown[] = [];
      q.register<{ n: number }>('work', (job) => {
        seen.push(job.data.n);
        return Promise.resolve();
      });
      await q.start();
      await q.add('work', { n: 1 }, { jobId: 'same' });
      await q.add('work', { n: 2 }, { jobId: 'same' });
      await q.add('work', { n: 3 });
      await until(() => seen.length >= 2);
      await new Promise((r) => setTimeout(r, 200));
      expect(seen.sort()).toEqual([1, 3]);
    });

    it('retries with backoff and reports the final failure', async () => {
      const q = await make(['flaky', 'doomed']);
      let tries = 0;
      const failures: { job: QueuedJob; final: boolean }[] = [];
      q.onFailed((job, _e, final) => failures.push({ job, final }));
      q.register('flaky', () => {
        tries += 1;
        return tries < 3 ? Promise.reject(new Error('not yet')) : Promise.resolve();
      });
      q.register('doomed', () => Promise.reject(new Error('never')));
      await q.start();
      await q.add('flaky', { x: 1 }, { attempts: 5, backoffMs: 10 });
      await q.add('doomed', { x: 2 }, { attempts: 2, backoffMs: 10, jobId: 'doomed-1' });
      await until(() => tries >= 3 && failures.some((f) => f.final));
      expect(failures.filter((f) => f.job.name === 'flaky').every((f) => !f.final)).toBe(true);
      expect(failures.find((f) => f.final)?.job.id).toBe('doomed-1');
      expect(failures.find((f) => f.final)?.job.data).toEqual({ x: 2 });
    });

    it('delays a job and can remove it before it runs', async () => {
      const q = await make(['later']);
      const ran: string[] = [];
      q.register<{ id: string }>('later', (job) => {
        ran.push(job.data.id);
        return Promise.resolve();
      });
      await q.start();
      await q.add('later', { id: 'kept' }, { jobId: 'kept', delayMs: 300 });
      await q.add('later', { id: 'cancelled' }, { jobId: 'cancelled', delayMs: 300 });
      expect(await q.has('cancelled')).toBe(true);
      expect(await q.remove('cancelled')).toBe(true);
      expect(await q.has('cancelled')).toBe(false);
      expect(ran).toEqual([]);
      await until(() => ran.length === 1);
      await new Promise((r) => setTimeout(r, 400));
      expect(ran).toEqual(['kept']);
    });
  });
}
