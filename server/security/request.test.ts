// Where a request comes from, as a trusted proxy reports it: the client's
// address is the X-Forwarded-For entry the proxy wrote (the last), never one
// the client put before it; without TRUST_PROXY the header is not believed.
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientAddress } from './request';

const request = (forwardedFor: string | undefined, peer = '10.0.0.2') =>
  ({ headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }, socket: { remoteAddress: peer } }) as unknown as IncomingMessage;
const trusted = { TRUST_PROXY: true, ALLOWED_ORIGINS: [] };

describe('clientAddress', () => {
  it('reads the entry the proxy wrote, whether it replaced the header or appended to what the client sent', () => {
    expect(clientAddress(request('203.0.113.7'), trusted)).toBe('203.0.113.7');
    expect(clientAddress(request('1.2.3.4, 203.0.113.7'), trusted)).toBe('203.0.113.7');
    expect(clientAddress(request('1.2.3.4,203.0.113.7 '), trusted)).toBe('203.0.113.7');
  });

  it('uses the socket when the proxy is not trusted or sent no header', () => {
    expect(clientAddress(request('1.2.3.4'), { TRUST_PROXY: false, ALLOWED_ORIGINS: [] })).toBe('10.0.0.2');
    expect(clientAddress(request(undefined), trusted)).toBe('10.0.0.2');
  });
});
