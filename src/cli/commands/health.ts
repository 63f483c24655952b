import { parseArgs } from 'node:util';
import { readHealthReport } from '../../health/health-file.ts';
import type { Command } from '../command.ts';
import { parseDurationFlag } from '../duration.ts';
import { resolveStateDir, stateDirOption } from '../state-dir.ts';

const help = `Usage: dockvault health [--state-dir DIR] [--max-age 30s]

Exit 0 when the worker using DIR last found itself connected to Temporal and polling both of its task
queues, at most --max-age ago (it checks every 10 s); exit 1 otherwise, with the reason. This is the
container image's HEALTHCHECK; it reads the worker's report file and opens no connection.`;

export const healthCommand: Command = {
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { ...stateDirOption, 'max-age': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      console.log(help);
      return 0;
    }
    const maxAgeMs = parseDurationFlag(values['max-age'] ?? '30s', '--max-age');
    const stateDir = resolveStateDir(values['state-dir']);
    const report = await readHealthReport(stateDir);
    if (!report) {
      console.log(`unhealthy: no worker has reported in ${stateDir}`);
      return 1;
    }
    const ageMs = Date.now() - Date.parse(report.checkedAt);
    if (ageMs > maxAgeMs) {
      console.log(
        `unhealthy: the last report is ${Math.round(ageMs / 1000)} s old (worker pid ${report.pid}): ${report.detail}`,
      );
      return 1;
    }
    console.log(`${report.healthy ? 'healthy' : 'unhealthy'}: ${report.detail}`);
    return report.healthy ? 0 : 1;
  },
};
