// The simulated devices: one real WebSocket per device, speaking tRPC 11's
// JSON wire protocol as the browser client does. Each device opens the
// presence.session subscription, waits for `attached`, then sends
// presence.heartbeat mutations and times each acknowledgement. Two load
// shapes: steady (every device each interval, phases spread evenly and
// jittered) and stress (as fast as the node answers, a fixed number in flight).
// Any other mutation can be sent over a device's socket with `mutate`.
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

/** Heartbeats sent while a recorder is current are counted and timed in it. */
export type Recorder = { sent: number; acked: number; errors: number; latenciesMs: number[] };
export const newRecorder = (): Recorder => ({ sent: 0, acked: 0, errors: 0, latenciesMs: [] });

export type ConnectResult = { attached: number; failed: number; failures: Map<string, number>; seconds: number };

type Pending = { sentAt: number; recorder: Recorder | undefined };

type Device = {
  index: number;
  token: string;
  socket: WebSocket | undefined;
  sessionId: string | undefined;
  /** The heartbeat message around its request id. */
  heartbeatHead: string;
  heartbeatTail: string;
  nextRequestId: number;
  pending: Map<number, Pending>;
  /** Mutations sent with `mutate`, awaiting their answer. */
  requests: Map<number, { resolve: (data: unknown) => void; reject: (error: Error) => void }>;
  timer: NodeJS.Timeout | undefined;
  /** Whether any of its heartbeats has been acknowledged. */
  acked: boolean;
};

type WireMessage = {
  id?: number | string | null;
  result?: { type?: string; data?: ({ type?: string; sessionId?: string; reason?: string } & Record<string, unknown>) | null };
  error?: { message?: string };
};

const SUBSCRIPTION_ID = 1;
const ERROR_SAMPLES = 10;

export class DeviceFleet {
  private readonly devices: Device[];
  private recorder: Recorder | undefined;
  private steady = false;
  private stressing = false;
  private stressCursor = 0;
  private maxInFlight = 0;
  private inFlight = 0;
  /** Totals over the whole run, for the report's notes. */
  readonly totals = { acked: 0, errors: 0, ended: 0, closedAfterAttach: 0, errorSamples: [] as string[] };

  constructor(
    private readonly options: {
      url: string;
      tokens: readonly string[];
      intervalMs: number;
      /** Spread of each interval, as a fraction of it (0.02 = ±2 %). */
      jitter: number;
      attachTimeoutMs: number;
    },
  ) {
    this.devices = options.tokens.map((token, index) => ({
      index,
      token,
      socket: undefined,
      sessionId: undefined,
      heartbeatHead: '',
      heartbeatTail: '',
      nextRequestId: SUBSCRIPTION_ID + 1,
      pending: new Map(),
      requests: new Map(),
      timer: undefined,
      acked: false,
    }));
  }

  get attached(): number {
    return this.devices.filter((d) => d.sessionId && d.socket?.readyState === WebSocket.OPEN).length;
  }

  /** Devices with at least one heartbeat acknowledged. */
  get heartbeated(): number {
    return this.devices.filter((d) => d.acked).length;
  }

  get pendingHeartbeats(): number {
    return this.inFlight;
  }

  /** Heartbeats sent from now on are recorded in `recorder` (or nowhere, with undefined). */
  record(recorder: Recorder | undefined): void {
    this.recorder = recorder;
  }

  /**
   * Opens every device's socket, `batchSize` at a time (the next batch once the
   * previous one has attached or failed). With steady load on, each device
   * starts heartbeating as soon as it is attached.
   */
  async connectAll(batchSize: number, onProgress?: (done: number) => void): Promise<ConnectResult> {
    const started = performance.now();
    const failures = new Map<string, number>();
    let attached = 0;
    for (let first = 0; first < this.devices.length; first += batchSize) {
      const batch = this.devices.slice(first, first + batchSize);
      const results = await Promise.allSettled(batch.map((device) => this.connect(device)));
      for (const result of results) {
        if (result.status === 'fulfilled') attached += 1;
        else {
          const reason = result.reason instanceof Error ? result.reason.message : String(result.reason);
          failures.set(reason, (failures.get(reason) ?? 0) + 1);
        }
      }
      onProgress?.(first + batch.length);
    }
    const failed = this.devices.length - attached;
    return { attached, failed, failures, seconds: (performance.now() - started) / 1000 };
  }

  /** Steady load: every attached device heartbeats each interval, starting at a random phase. */
  startSteady(): void {
    this.steady = true;
    for (const device of this.devices) {
      if (device.sessionId && !device.timer) this.schedule(device, Math.random() * this.options.intervalMs);
    }
  }

  stopSteady(): void {
    this.steady = false;
    for (const device of this.devices) {
      clearTimeout(device.timer);
      device.timer = undefined;
    }
  }

  /** Stress load: keeps `maxInFlight` heartbeats outstanding, taking devices in turn. */
  startStress(maxInFlight: number): void {
    this.stressing = true;
    this.maxInFlight = maxInFlight;
    this.pump();
  }

  stopStress(): void {
    this.stressing = false;
  }

  /** Resolves once no heartbeat awaits its acknowledgement, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.inFlight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.inFlight === 0;
  }

  /**
   * Sends mutation `path` over the socket of device `index` (in the order of
   * `tokens`); resolves with its result, or rejects with its error or when the
   * device loses its session first.
   */
  mutate(index: number, path: string, input: unknown): Promise<unknown> {
    const device = this.devices[index];
    const socket = device?.socket;
    if (!device?.sessionId || socket?.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error(`device ${index} is not attached`));
    }
    const id = device.nextRequestId++;
    return new Promise((resolve, reject) => {
      device.requests.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method: 'mutation', params: { path, input } }));
    });
  }

  /** Closes every socket at once (no closing handshake). */
  close(): void {
    this.stopSteady();
    this.stopStress();
    for (const device of this.devices) {
      device.socket?.removeAllListeners();
      device.socket?.on('error', () => undefined);
      device.socket?.terminate();
      device.socket = undefined;
      for (const request of device.requests.values()) request.reject(new Error('the fleet was closed'));
      device.requests.clear();
    }
  }

  private connect(device: Device): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(this.options.url, {
        headers: { cookie: `sb_session=${device.token}` },
        perMessageDeflate: false,
      });
      device.socket = socket;
      let settled = false;
      const settle = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) {
          socket.removeAllListeners();
          socket.on('error', () => undefined);
          socket.terminate();
          device.socket = undefined;
          reject(error);
        } else resolve();
      };
      const timer = setTimeout(() => settle(new Error(`not attached within ${this.options.attachTimeoutMs} ms`)), this.options.attachTimeoutMs);

      socket.on('open', () => {
        const deviceId = `bench-device-${String(device.index).padStart(5, '0')}`;
        const clientSessionId = `bench-session-${String(device.index).padStart(5, '0')}`;
        socket.send(
          JSON.stringify({
            id: SUBSCRIPTION_ID,
            method: 'subscription',
            params: { path: 'presence.session', input: { deviceId, sessionId: clientSessionId } },
          }),
        );
      });
      socket.on('message', (data, isBinary) => {
        const text = isBinary ? '' : data.toString();
        if (text === 'PING') return socket.send('PONG');
        if (text === 'PONG' || !text) return;
        let message: WireMessage;
        try {
          message = JSON.parse(text) as WireMessage;
        } catch {
          return;
        }
        if (message.id === SUBSCRIPTION_ID) {
          const event = message.result?.data;
          if (message.error) settle(new Error(`subscription refused: ${message.error.message ?? 'no message'}`));
          else if (event?.type === 'attached' && event.sessionId) {
            this.attach(device, event.sessionId);
            settle();
          } else if (event?.type === 'ended') {
            this.totals.ended += 1;
            this.detach(device);
          }
        } else if (typeof message.id === 'number') {
          const request = device.requests.get(message.id);
          device.requests.delete(message.id);
          if (!request) this.acknowledged(device, message.id, message.error?.message);
          else if (message.error) request.reject(new Error(message.error.message ?? 'mutation failed'));
          else request.resolve(message.result?.data);
        }
      });
      socket.on('error', (error) => settle(new Error(`socket error: ${error.message}`)));
      socket.on('close', (code) => {
        settle(new Error(`socket closed (${code}) before attaching`));
        if (device.sessionId) this.totals.closedAfterAttach += 1;
        this.detach(device);
        device.socket = undefined;
      });
    });
  }

  private attach(device: Device, sessionId: string): void {
    device.sessionId = sessionId;
    device.heartbeatHead = '{"id":';
    device.heartbeatTail = `,"method":"mutation","params":{"path":"presence.heartbeat","input":{"sessionId":"${sessionId}","activity":"active"}}}`;
    if (this.steady) this.schedule(device, Math.random() * this.options.intervalMs);
  }

  /** The device's session is gone: stop its heartbeats and forget what it awaited. */
  private detach(device: Device): void {
    device.sessionId = undefined;
    clearTimeout(device.timer);
    device.timer = undefined;
    this.inFlight -= device.pending.size;
    device.pending.clear();
    for (const request of device.requests.values()) request.reject(new Error('the device lost its session'));
    device.requests.clear();
  }

  private schedule(device: Device, delayMs: number): void {
    device.timer = setTimeout(() => {
      this.send(device);
      const { intervalMs, jitter } = this.options;
      if (this.steady && device.sessionId) this.schedule(device, intervalMs * (1 + jitter * (2 * Math.random() - 1)));
    }, delayMs);
  }

  private send(device: Device): boolean {
    const socket = device.socket;
    if (!device.sessionId || socket?.readyState !== WebSocket.OPEN) return false;
    const id = device.nextRequestId++;
    device.pending.set(id, { sentAt: performance.now(), recorder: this.recorder });
    this.inFlight += 1;
    if (this.recorder) this.recorder.sent += 1;
    socket.send(device.heartbeatHead + id + device.heartbeatTail);
    return true;
  }

  private acknowledged(device: Device, id: number, error: string | undefined): void {
    const pending = device.pending.get(id);
    if (!pending) return;
    device.pending.delete(id);
    this.inFlight -= 1;
    if (error) {
      this.totals.errors += 1;
      if (this.totals.errorSamples.length < ERROR_SAMPLES) this.totals.errorSamples.push(error);
      if (pending.recorder) pending.recorder.errors += 1;
    } else {
      this.totals.acked += 1;
      device.acked = true;
      if (pending.recorder) {
        pending.recorder.acked += 1;
        pending.recorder.latenciesMs.push(performance.now() - pending.sentAt);
      }
    }
    if (this.stressing) this.pump();
  }

  /** Sends heartbeats from devices in turn (one outstanding per device) until maxInFlight are outstanding. */
  private pump(): void {
    const count = this.devices.length;
    let looked = 0;
    while (this.stressing && this.inFlight < this.maxInFlight && looked < count) {
      const device = this.devices[this.stressCursor];
      this.stressCursor = (this.stressCursor + 1) % count;
      looked += 1;
      if (device && device.pending.size === 0 && this.send(device)) looked = 0;
    }
  }
}
