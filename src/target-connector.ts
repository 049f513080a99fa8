/**
 * Dial a target as its managed account. The host key is checked inside key exchange, so on a
 * mismatch no credential ever leaves Warden. Failures are thrown as ConnectFailure with the
 * reason the session ends with and a message for the user.
 */
import { readFile } from 'node:fs/promises';
import type { Client as ClientT, ConnectConfig } from 'ssh2';
import { Client } from './ssh2.js';
import { ConnectFailure } from '../machines/session.types.js';
import type { Config } from './config.js';
import type { Permission } from './grants.js';
import { blobType, fingerprint, hostKeyAlgorithms, parseHostKeyLine, type HostKey, type HostKeyStore } from './hostkeys.js';
import { clientAlgorithms } from './ssh-algorithms.js';

export interface HostKeyMismatch {
  asset: string;
  expected: string;
  presented: string;
}

export interface ConnectOptions {
  cfg: Config;
  permission: Permission;
  hostKeys: HostKeyStore;
  signal: AbortSignal;
  onMismatch: (m: HostKeyMismatch) => void;
}

function fail(reason: ConnectFailure['reason'], detail: string): ConnectFailure {
  return new ConnectFailure(reason, detail);
}

async function credentials(cfg: Config, account: string): Promise<Pick<ConnectConfig, 'privateKey' | 'password'>> {
  const acc = cfg.accounts[account]!;
  try {
    if (acc.privateKeyFile) return { privateKey: await readFile(acc.privateKeyFile) };
    return { password: (await readFile(acc.passwordFile!, 'utf8')).replace(/\r?\n$/, '') };
  } catch (err) {
    throw fail('error', `credentials of account "${account}" cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); an admin must fix the account`);
  }
}

export async function connectTarget(opts: ConnectOptions): Promise<ClientT> {
  const { cfg, permission: p, hostKeys, signal } = opts;
  const assetCfg = cfg.assets[p.asset]!;
  if (!assetCfg.hostKey) {
    throw fail('denied', `asset "${p.asset}" has no pinned host key; an admin must set hostKey (a key line or "tofu")`);
  }
  const pinned: HostKey | undefined = assetCfg.hostKey === 'tofu' ? await hostKeys.get(p.asset) : parseHostKeyLine(assetCfg.hostKey);
  const creds = await credentials(cfg, p.account);
  if (signal.aborted) throw fail('error', 'cancelled');

  return new Promise<ClientT>((resolve, reject) => {
    const client = new Client();
    let mismatch: ConnectFailure | undefined;
    let settled = false;
    const settle = (err?: ConnectFailure) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (err) {
        client.removeAllListeners('ready');
        client.on('error', () => {});
        client.end();
        reject(err);
      } else resolve(client);
    };
    const onAbort = () => settle(fail('error', 'cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });

    const verify = (key: Buffer, done: (ok: boolean) => void) => {
      if (pinned) {
        if (pinned.blob.equals(key)) {
          done(true);
          return;
        }
        // A tofu asset's key was trusted on first use, not pinned by an admin: say which, and
        // the one fix that applies.
        mismatch = fail(
          'hostkey_mismatch',
          assetCfg.hostKey === 'tofu'
            ? `Asset "${p.asset}" presented ${blobType(key)} ${fingerprint(key)} but ${fingerprint(pinned.blob)} was trusted on first use. ` +
                `If the change is expected, an admin must run \`warden hostkeys --forget ${p.asset}\`.`
            : `Asset "${p.asset}" presented ${blobType(key)} ${fingerprint(key)} but ${fingerprint(pinned.blob)} is pinned. ` +
                `If the change is expected, an admin must update the asset's hostKey.`,
        );
        opts.onMismatch({ asset: p.asset, expected: fingerprint(pinned.blob), presented: fingerprint(key) });
        done(false);
        return;
      }
      // Trust on first use: remember it fleet-wide; a concurrent first use by another
      // instance wins and we compare with its key.
      hostKeys.trustFirst(p.asset, key).then(
        (stored) => {
          if (stored.blob.equals(key)) {
            done(true);
            return;
          }
          mismatch = fail('hostkey_mismatch', `Asset "${p.asset}" presented ${fingerprint(key)} but ${fingerprint(stored.blob)} was trusted first.`);
          opts.onMismatch({ asset: p.asset, expected: fingerprint(stored.blob), presented: fingerprint(key) });
          done(false);
        },
        () => {
          mismatch = fail('unavailable', 'the host key store is unreachable');
          done(false);
        },
      );
    };

    client.once('ready', () => {
      client.setNoDelay(true);
      settle();
    });
    client.on('error', (err: Error & { level?: string }) => {
      if (mismatch) return settle(mismatch);
      const detail =
        err.level === 'client-authentication'
          ? `account "${p.account}" was refused by ${p.asset}; an admin must check its credentials`
          : `${p.asset} ${p.host}:${p.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`;
      settle(fail(err.level === 'client-authentication' ? 'error' : 'target_unreachable', detail));
    });
    client.once('close', () => settle(mismatch ?? fail('target_unreachable', `${p.asset} closed the connection during setup`)));

    client.connect({
      host: p.host,
      port: p.port,
      username: p.username,
      ...creds,
      readyTimeout: cfg.target.connectTimeout,
      keepaliveInterval: cfg.target.keepaliveInterval,
      keepaliveCountMax: 3,
      algorithms: clientAlgorithms(pinned ? hostKeyAlgorithms(pinned.type) : undefined),
      hostVerifier: verify,
      // Agent forwarding and password prompts from the target are never relayed.
      tryKeyboard: false,
      ident: 'Warden',
    } as ConnectConfig);
  });
}
