import { Command } from 'commander';
import { demoCommand } from './demo-command';
import { mountCommand } from './mount-command';
import { unmountCommand } from './unmount-command';

export function buildProgram(): Command {
  return new Command('cachalot')
    .description('A caching FUSE filesystem for ML training data in S3')
    .version(require('../../../package.json').version)
    .showHelpAfterError('(run with --help for usage)')
    .addCommand(mountCommand())
    .addCommand(unmountCommand())
    .addCommand(demoCommand());
}
