// Entry point of the `cachalot` command (node daemon included: `mount --foreground`).
import { buildProgram } from '../src/cli/program';
import { die } from '../src/cli/exit';

// The aws-sdk warns at every start that its 2027 releases will need Node 22;
// this release pins its sdk, so keep stderr for our own messages.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// grpc-js names the host it connects to as the TLS server name even when it
// is an IP address (grpc/grpc-node#1919), and Node warns once (DEP0123) that
// RFC 6066 forbids that: a second line beside `cachalot status`'s output
// that nobody can act on. The certificate is still checked against the IP.
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = ((...args: unknown[]) => {
  // (warning, type, code) or (warning, { type, code })
  const code = typeof args[1] === 'object' ? (args[1] as { code?: string } | null)?.code : args[2];
  if (code !== 'DEP0123') emitWarning(...args);
}) as typeof process.emitWarning;

buildProgram().parseAsync(process.argv).catch(die);
