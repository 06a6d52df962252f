import { describe, expect, it } from 'vitest';
import { EnvError, loadEnv } from './env';

describe('loadEnv', () => {
  it('gives the documented defaults when nothing is set', () => {
    const env = loadEnv({});
    expect(env).toMatchObject({
      PORT: 3000,
      DATA_DIR: './.data',
      SEED: 'demo',
      HEARTBEAT_INTERVAL_MS: 15_000,
      SESSION_TTL_MS: 45_000,
      DISCONNECT_GRACE_MS: 5_000,
      IDLE_AFTER_MS: 300_000,
      NODE_HEARTBEAT_MS: 5_000,
      NODE_TIMEOUT_MS: 15_000,
      OFFER_TIMEOUT_MS: 30_000,
    });
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('treats an empty variable as unset', () => {
    expect(loadEnv({ DATABASE_URL: '', PORT: '' }).PORT).toBe(3000);
  });

  it('names the variable and what it expected when a number is not one', () => {
    expect(() => loadEnv({ PORT: 'eighty' })).toThrowError(EnvError);
    expect(() => loadEnv({ PORT: 'eighty' })).toThrowError(/PORT="eighty": .*number/);
  });

  it('names the variable when a database URL is not a postgres URL', () => {
    expect(() => loadEnv({ DATABASE_URL: 'mysql://x' })).toThrowError(/DATABASE_URL="mysql:\/\/x": .*postgres:\/\//);
  });

  it('refuses a session TTL that is not longer than the heartbeat interval', () => {
    expect(() => loadEnv({ HEARTBEAT_INTERVAL_MS: '15000', SESSION_TTL_MS: '10000' })).toThrowError(/SESSION_TTL_MS=10000/);
  });

  it('refuses an unknown SEED value, listing the accepted ones', () => {
    expect(() => loadEnv({ SEED: 'lots' })).toThrowError(/SEED="lots".*demo.*none/);
  });
});
