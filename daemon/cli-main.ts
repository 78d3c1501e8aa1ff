// Entry point of the `cachalot` command (node daemon included: `mount --foreground`).
import { buildProgram } from '../src/cli/program';
import { die } from '../src/cli/exit';

// The aws-sdk warns at every start that its 2027 releases will need Node 22;
// this release pins its sdk, so keep stderr for our own messages.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

buildProgram().parseAsync(process.argv).catch(die);
