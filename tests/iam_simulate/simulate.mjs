// Reads a JSON list of iam-simulate Simulation objects on stdin, writes a JSON list of results on stdout.
// Test-time only (tests/test_policy_differential.py); the kit never runs or imports this.
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { readFileSync } from 'node:fs';

const simulations = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for (const simulation of simulations) {
  try {
    const run = await runSimulation(simulation, { simulationMode: 'Strict' });
    if (run.resultType === 'error') {
      results.push({ result: 'error', detail: run.errors });
    } else {
      const analysis = run.resultType === 'single' ? run.result.analysis : {};
      const layers = {};
      for (const [name, value] of Object.entries(analysis || {})) {
        if (value && typeof value === 'object' && 'result' in value) layers[name] = value.result;
      }
      results.push({ result: run.overallResult, layers,
                     ignored: run.resultType === 'single' ? run.result.ignoredContextKeys : [] });
    }
  } catch (error) {
    results.push({ result: 'exception', detail: String(error) });
  }
}
process.stdout.write(JSON.stringify(results));
