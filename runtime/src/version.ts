/** The runtime package's version, as shown by `pop3d --version`, the status API and CAPA's IMPLEMENTATION. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const VERSION: string = (require('../../package.json') as { version: string }).version;
