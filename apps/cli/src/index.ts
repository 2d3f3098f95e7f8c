export { run, COMMANDS, mainHelp } from './cli';
export type { Io, Out } from './io';
export * from './views';
export { logChecksum, viewsChecksum } from './commands/replay';
export { reportHtml, reportSvg } from './report';
