import { Command, CommanderError } from 'commander';
import { configCommand } from './config-command';
import { demoCommand } from './demo-command';
import { metaCommand } from './meta-command';
import { mountCommand } from './mount-command';
import { statsCommand } from './stats-command';
import { statusCommand } from './status-command';
import { unmountCommand } from './unmount-command';
import { cacheCommands } from './warmup-command';

export function buildProgram(): Command {
  const program = new Command('cachalot')
    .description('A caching FUSE filesystem for ML training data in S3')
    .version(require('../../../package.json').version)
    .addCommand(mountCommand())
    .addCommand(unmountCommand())
    .addCommand(statsCommand())
    .addCommand(metaCommand())
    .addCommand(statusCommand())
    .addCommand(configCommand())
    .addCommand(demoCommand());
  for (const command of cacheCommands()) program.addCommand(command);
  // addCommand does not pass these settings on: every command gets them.
  for (const command of [program, ...program.commands, ...program.commands.flatMap((c) => c.commands)]) usageErrorsAsOneLine(command);
  return program;
}

/** Commander's words for a flag value its parser refused: "option '--meta <host:port>' argument 'x' is invalid. expected HOST:PORT." */
const REFUSED_VALUE = /^option '(--[\w-]+)[^']*' argument '(.*)' is invalid\. (.*?)\.?$/;

/** Usage errors look like every other error: one "cachalot: error:" line naming the flag first (--meta: ...), exit 2. */
function usageErrorsAsOneLine(command: Command): void {
  command
    .configureOutput({
      outputError: (text, write) => {
        const message = text.replace(/^error: /, '').trim().replace(REFUSED_VALUE, '$1: $3 (not "$2")');
        write(`cachalot: error: ${message} (see --help)\n`);
      },
    })
    .exitOverride((err: CommanderError) => {
      const informational = err.code === 'commander.helpDisplayed' || err.code === 'commander.version';
      process.exit(informational ? 0 : 2);
    });
}
