// A hostile client in a process of its own (so that its sending does not load
// the node under test): opens a WebSocket with the given cookie and sends
// `rate` tRPC messages a second for `seconds`, reconnecting whenever the
// server closes it, as a persistent attacker would. Prints one JSON line at
// the end: messages sent, answers and refusals received, closes by code.
// Usage: flood-process.ts <ws url> <cookie> <rate> <seconds>
import WebSocket from 'ws';

const [url, cookie, rateArg, secondsArg] = process.argv.slice(2);
if (!url || !cookie || !rateArg || !secondsArg) throw new Error('usage: flood-process.ts <ws url> <cookie> <rate> <seconds>');
const rate = Number(rateArg);
const endAt = Date.now() + Number(secondsArg) * 1000;
const tally = { sent: 0, answered: 0, refused: 0, closes: {} as Record<string, number>, connections: 0 };
let id = 0;

function connect(): void {
  if (Date.now() >= endAt) return finish();
  tally.connections++;
  const socket = new WebSocket(url!, { headers: { cookie: cookie! } });
  let timer: NodeJS.Timeout | undefined;
  socket.on('open', () => {
    // Every 10 ms, a hundredth of a second's worth of messages.
    timer = setInterval(() => {
      if (Date.now() >= endAt) return socket.close();
      for (let i = 0; i < rate / 100 && socket.readyState === socket.OPEN; i++) {
        socket.send(JSON.stringify({ id: ++id, method: 'query', params: { path: 'auth.me' } }));
        tally.sent++;
      }
    }, 10);
  });
  socket.on('message', (data) => {
    const text = data.toString();
    if (text.includes('TOO_MANY_REQUESTS')) tally.refused++;
    else if (text.includes('"result"')) tally.answered++;
  });
  socket.on('error', () => {});
  socket.on('close', (code) => {
    clearInterval(timer);
    tally.closes[code] = (tally.closes[code] ?? 0) + 1;
    setTimeout(connect, 50);
  });
}

let done = false;
function finish(): void {
  if (done) return;
  done = true;
  process.stdout.write(`${JSON.stringify(tally)}\n`);
  process.exit(0);
}
connect();
