/** The message a config is refused with (a test failure if it is accepted). */
import { parseConfig } from '../../src/config.js';

export function configError(text: string, file = '/etc/warden/warden.yaml'): string {
  try {
    parseConfig(text, file);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('config was accepted');
}
