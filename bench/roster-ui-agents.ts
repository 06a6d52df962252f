// The agents behind the roster-UI benchmark: one real WebSocket device per
// agent, speaking tRPC 11's JSON wire protocol as the browser client does. A
// device opens its presence.session subscription, answers the server's PING
// (a sign of life, so no heartbeat timer is needed for the length of a run),
// and sets its agent's status with presence.setStatus — the product's path
// for a status change, which the roster then shows.
import WebSocket from 'ws';

export type Status = 'available' | 'busy' | 'away' | 'offline';
export type SetStatusResult = { changed: boolean; status: Status; version: number };

type Device = {
  socket: WebSocket | undefined;
  nextRequestId: number;
  waiting: Map<number, { resolve: (result: SetStatusResult) => void; reject: (error: Error) => void }>;
};

type WireMessage = {
  id?: number | string | null;
  result?: { type?: string; data?: unknown };
  error?: { message?: string };
};

const SUBSCRIPTION_ID = 1;
/** What the roster shows as the device's label: "Chrome on Linux". */
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36';

export class AgentDevices {
  private readonly devices: Device[];

  constructor(private readonly options: { url: string; tokens: readonly string[]; attachTimeoutMs: number }) {
    this.devices = options.tokens.map(() => ({ socket: undefined, nextRequestId: SUBSCRIPTION_ID + 1, waiting: new Map() }));
  }

  /** Attaches every device, `batchSize` at a time; resolves with how many attached. */
  async connectAll(batchSize: number): Promise<{ attached: number; failures: string[] }> {
    let attached = 0;
    const failures: string[] = [];
    for (let first = 0; first < this.devices.length; first += batchSize) {
      const indexes = Array.from({ length: Math.min(batchSize, this.devices.length - first) }, (_, i) => first + i);
      for (const result of await Promise.allSettled(indexes.map((i) => this.connect(i)))) {
        if (result.status === 'fulfilled') attached += 1;
        else failures.push(result.reason instanceof Error ? result.reason.message : String(result.reason));
      }
    }
    return { attached, failures };
  }

  /** The agent at `index` chooses `status`; resolves with the server's answer. */
  setStatus(index: number, status: Status): Promise<SetStatusResult> {
    const device = this.devices[index];
    const socket = device?.socket;
    if (!device || socket?.readyState !== WebSocket.OPEN) return Promise.reject(new Error(`device ${index} is not connected`));
    const id = device.nextRequestId++;
    return new Promise((resolve, reject) => {
      device.waiting.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method: 'mutation', params: { path: 'presence.setStatus', input: { status } } }));
    });
  }

  /** Closes every socket at once (no closing handshake). */
  close(): void {
    for (const device of this.devices) {
      device.socket?.removeAllListeners();
      device.socket?.on('error', () => undefined);
      device.socket?.terminate();
      device.socket = undefined;
      for (const waiting of device.waiting.values()) waiting.reject(new Error('closed'));
      device.waiting.clear();
    }
  }

  private connect(index: number): Promise<void> {
    const device = this.devices[index];
    const token = this.options.tokens[index];
    if (!device || !token) return Promise.reject(new Error(`no device ${index}`));
    return new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(this.options.url, {
        headers: { cookie: `sb_session=${token}`, 'user-agent': USER_AGENT },
        perMessageDeflate: false,
      });
      device.socket = socket;
      let settled = false;
      const settle = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => settle(new Error(`not attached within ${this.options.attachTimeoutMs} ms`)), this.options.attachTimeoutMs);
      const tag = String(index).padStart(5, '0');
      socket.on('open', () =>
        socket.send(
          JSON.stringify({
            id: SUBSCRIPTION_ID,
            method: 'subscription',
            params: { path: 'presence.session', input: { deviceId: `bench-ui-device-${tag}`, sessionId: `bench-ui-session-${tag}` } },
          }),
        ),
      );
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
          const event = message.result?.data as { type?: string } | undefined;
          if (message.error) settle(new Error(`subscription refused: ${message.error.message ?? 'no message'}`));
          else if (event?.type === 'attached') settle();
          return;
        }
        if (typeof message.id !== 'number') return;
        const waiting = device.waiting.get(message.id);
        if (!waiting) return;
        device.waiting.delete(message.id);
        if (message.error) waiting.reject(new Error(message.error.message ?? 'setStatus failed'));
        else waiting.resolve(message.result?.data as SetStatusResult);
      });
      socket.on('error', (error) => settle(new Error(`socket error: ${error.message}`)));
      socket.on('close', (code) => {
        settle(new Error(`socket closed (${code}) before attaching`));
        for (const waiting of device.waiting.values()) waiting.reject(new Error(`socket closed (${code})`));
        device.waiting.clear();
      });
    });
  }
}
