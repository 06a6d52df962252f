// What every benchmark entry needs around its run: a timestamped progress
// line, and clean-up steps (servers, databases, browsers) run last-in,
// first-out — also when the run is interrupted with Ctrl-C or SIGTERM.

/** A progress printer: `[name +12.3s] line`. */
export function progress(name: string): (line: string) => void {
  const began = performance.now();
  return (line) => process.stdout.write(`[${name} +${((performance.now() - began) / 1000).toFixed(1)}s] ${line}\n`);
}

export class Cleanups {
  private readonly steps: Array<() => unknown> = [];

  constructor(private readonly say: (line: string) => void) {}

  push(step: () => unknown): void {
    this.steps.push(step);
  }

  /** Runs every step, newest first; a failing step is reported and the others still run. */
  async run(): Promise<void> {
    while (this.steps.length) {
      try {
        await this.steps.pop()?.();
      } catch (error) {
        this.say(`clean-up step failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  /** Runs the steps newest first, stopping at the first that fails (its error is thrown; later `run()` does the rest). */
  async runOrThrow(): Promise<void> {
    while (this.steps.length) await this.steps.pop()?.();
  }

  /** Until the returned function is called, SIGINT and SIGTERM run the clean-up and exit 130. */
  onSignals(): () => void {
    const onSignal = (signal: NodeJS.Signals) => {
      this.say(`${signal}: cleaning up`);
      void this.run().finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    return () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
  }
}
