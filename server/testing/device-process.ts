// A device in a process of its own, for tests that kill it: signs in as the
// given user, attaches a presence session, prints "attached <sessionId>", and
// stays connected until it is killed. Usage: device-process.ts <url> <email> <password>
import { openDevice, signIn } from './clients';

const [url, email, password] = process.argv.slice(2);
if (!url || !email || !password) throw new Error('usage: device-process.ts <url> <email> <password>');
const device = await openDevice(url, await signIn(url, email, password));
process.stdout.write(`attached ${device.sessionId}\n`);
setInterval(() => void device.heartbeat().catch(() => {}), 1_000);
