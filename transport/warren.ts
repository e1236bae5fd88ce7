#!/usr/bin/env node
/**
 * The `warren` command (package.json `bin`): `warren ctl …` runs the command-line tool against a
 * running broker's management API (admin-ui/ctl/); anything else starts the broker, as `npm start`
 * does (transport/cli.ts). Each side is loaded only when used, so `warren ctl` starts quickly.
 */
const args = process.argv.slice(2)
if (args[0] === 'ctl') {
  // `warren ctl list queues | head`: a closed pipe ends the tool quietly, not with a stack trace
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw err
  })
  const { runCtl } = await import('../admin-ui/ctl/main.js')
  // exitCode, not exit(): stdout may be a pipe that is still being written
  process.exitCode = await runCtl(args.slice(1), process.env)
} else {
  await import('./cli.js')
}
