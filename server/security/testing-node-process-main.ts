// The entry of a node run in its own process for the fuzz test
// (testing-node-process.ts starts it): `node --import tsx this-file
// <database url> <settings as JSON>`. It starts a test node (API only, quiet:
// errors only, one JSON line each on stderr), prints one JSON line on stdout
// once it listens — its URL and the limits the fuzzing keeps to — and stops on
// SIGTERM. An uncaught throw ends it as it would end a production node.
import { startTestNode } from '../testing/node';

const [databaseUrl, settings = '{}'] = process.argv.slice(2);
if (!databaseUrl) throw new Error('usage: testing-node-process-main.ts <database url> [settings JSON]');

const node = await startTestNode(databaseUrl, JSON.parse(settings) as Record<string, string>);
const { env } = node.services;
process.stdout.write(`${JSON.stringify({ url: node.url, wsMaxPayloadBytes: env.WS_MAX_PAYLOAD_BYTES, httpMaxBodyBytes: env.HTTP_MAX_BODY_BYTES })}\n`);

process.once('SIGTERM', () => {
  void node.stop().then(() => process.exit(0));
});
