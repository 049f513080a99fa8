/** ssh2 is CommonJS without static named exports for ESM; this is the one place that unpacks it. */
import ssh2 from 'ssh2';

export const { Server, Client, utils } = ssh2;
export type { Server as ServerType, Client as ClientType } from 'ssh2';
