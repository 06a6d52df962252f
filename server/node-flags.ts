// Node flags a Switchboard server runs with: `npm start` and `npm run dev`
// give them in package.json (a test keeps the two lists equal); the
// benchmarks and the test harness start servers with these.
//
// --max-semi-space-size=64 (MiB; Node 20's default is 16): a server allocates
// tens of MB/s delivering events (tRPC's WebSocket adapter alone leaves ~7 KB
// per message). With a small young generation, objects still waiting in
// subscription queues survive two scavenges and are promoted, and the old
// space grows until 30–50 ms mark-compacts stall every socket. In the fan-out
// benchmark the larger young generation cut the delivery p99 (361 → 126 ms and
// 472 → 298 ms in two pairs of runs) and lowered peak RSS (decision 018).
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];
