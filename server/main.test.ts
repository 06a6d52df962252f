// The process as an operator runs it: start, stop on SIGTERM, and the one-line
// failures for a bad setting, a port in use and an unreachable database.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVER_NODE_FLAGS } from './node-flags';
import { freePort, runMain, spawnNode, tempDataDir } from './testing/spawn-node';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('the server process', () => {
  it('runs under `npm start` and `npm run dev` with the node flags the benchmarks and tests use', () => {
    const { scripts } = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    for (const name of ['start', 'dev']) {
      const flags = /exec node (.*?) --import tsx/.exec(scripts[name] ?? '')?.[1]?.split(' ') ?? [];
      expect(flags, `package.json scripts.${name}`).toEqual([...SERVER_NODE_FLAGS]);
    }
  });

  it('stops on SIGTERM with exit code 0 and leaves no postgres running', async () => {
    const dataDir = tempDataDir('sigterm');
    const node = await spawnNode({ DATA_DIR: dataDir, SEED: 'none' });
    const pidFile = join(dataDir, 'pg', 'postmaster.pid');
    const postgresPid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    expect(alive(postgresPid)).toBe(true);
    const res = await fetch(`${node.url}/login`);
    expect(res.status).toBe(200);

    const started = Date.now();
    expect(await node.stop('SIGTERM')).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(alive(postgresPid)).toBe(false);
    expect(existsSync(pidFile)).toBe(false);
    rmSync(dataDir, { recursive: true, force: true });
  }, 90_000);

  it('stops an embedded postgres orphaned by a killed run, then starts normally', async () => {
    const dataDir = tempDataDir('orphan');
    const first = await spawnNode({ DATA_DIR: dataDir, SEED: 'none' });
    const orphanPid = Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(await first.stop('SIGKILL')).toBeNull();
    expect(alive(orphanPid)).toBe(true); // what a killed node leaves behind

    const second = await spawnNode({ DATA_DIR: dataDir, SEED: 'none' });
    expect(second.output()).toContain(`stopping orphaned embedded postgres (pid ${orphanPid})`);
    expect(alive(orphanPid)).toBe(false);
    expect(await second.stop()).toBe(0);
    rmSync(dataDir, { recursive: true, force: true });
  }, 90_000);

  it('exits 1 with one clear line when the port is in use', async () => {
    const port = await freePort();
    const blocker = createServer().listen(port, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const { exited } = runMain({ PORT: String(port), HOST: '127.0.0.1', DATA_DIR: '.test-data/never-created' });
    const { code, stderr } = await exited;
    blocker.close();
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(`switchboard: port ${port} is already in use (set PORT to another port)`);
    expect(existsSync('.test-data/never-created')).toBe(false); // it failed before starting anything
  });

  it('exits 1 with one clear line when DATABASE_URL cannot be reached', async () => {
    const port = await freePort(); // nothing listens there
    const { exited } = runMain({ DATABASE_URL: `postgres://nobody:secret@127.0.0.1:${port}/x`, PORT: String(await freePort()) });
    const { code, stderr } = await exited;
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(new RegExp(`^switchboard: cannot use the database at postgres://nobody:\\*\\*\\*@127.0.0.1:${port}/x: .*ECONNREFUSED`));
    expect(stderr).not.toContain('secret');
  });

  it('exits 1 naming the variable when a setting is invalid', async () => {
    const { exited } = runMain({ HEARTBEAT_INTERVAL_MS: 'often' });
    const { code, stderr } = await exited;
    expect(code).toBe(1);
    expect(stderr.trim()).toMatch(/^switchboard: invalid configuration: HEARTBEAT_INTERVAL_MS="often": .*number/);
  });
});
