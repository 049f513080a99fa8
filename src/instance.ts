/**
 * The composition root: one running Warden instance. Its lifecycle is declared as data,
 * a list of stages started in order and stopped in reverse, so adding a part (a worker, a
 * heartbeat) is one entry here.
 */
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { FrontDoor, loadOrCreateHostKey } from './front-door.js';
import { HostKeyStore } from './hostkeys.js';
import { defaultInstanceId } from './ids.js';
import { createAuditLogger, type Logger } from './logger.js';
import { join } from 'node:path';
import { AuditQueues } from './audit/audit-queues.js';
import { startEmbeddedRedis, type EmbeddedRedis } from './redis.js';
import { connectRedis, describeRedis, type RedisClient } from './redis-connection.js';
import { RedisKeys } from './redis-keys.js';
import type { RedisHealth } from './redis-health.js';
import { startRedisProbe } from './redis-probe.js';
import { Journal, journalFile, type JournalSink } from './journal.js';
import { makePrivateDir, widerThanPrivate } from './private-files.js';
import { withTimeout } from './timeout.js';
import { Registry } from './registry.js';
import { checkNativeCrypto } from './native-check.js';
import { SupervisorHandle } from './supervisor.js';
import { checkSsh2Patch } from './ssh2-patched.js';
import { migrateLegacyQueues } from './bull-legacy.js';
import { ControlPlane } from './control-plane.js';
import { Counters } from './counters.js';
import { WardenError } from './errors.js';
import { InstanceRegistry } from './instance-registry.js';
import { packageVersion } from './paths.js';
import { Reaper } from './reaper.js';
import { RecordingHealth } from './recording/recording-health.js';
import { recordingsDir } from './audit/recording-files.js';
import { AuthPenalty } from './auth-penalty.js';
import { FleetEvents } from './fleet-events.js';
import { InstanceCounts } from './instance-counts.js';
import { startWatchHub, type WatchHub } from './watch/watch-hub.js';

export interface Instance {
  id: string;
  address: AddressInfo;
  supervisor: SupervisorHandle;
  registry: Registry;
  redis: RedisClient;
  keys: RedisKeys;
  instances: InstanceRegistry;
  counters: Counters;
  stop(reason?: 'shutdown'): Promise<void>;
}

interface Stage {
  name: string;
  start(): Promise<void> | void;
  stop?(): Promise<void> | void;
  /** ms kept for this stage at the end of a bounded stop, however long the others took. */
  reserve?: number;
}
/** As one worker of `--workers N`: its own journal file; the embedded Redis is the parent's. */
export interface InstanceRole { journalFile?: string; embeddedRedis?: 'own' | 'parent' }

export async function startInstance(cfg: Config, log: Logger, audit: Logger = createAuditLogger(cfg.auditFile ?? join(cfg.dataDir, 'audit.jsonl')), role: InstanceRole = {}): Promise<Instance> {
  const id = cfg.instanceId ?? defaultInstanceId();
  const ilog = log.child({ instance: id });
  const keys = new RedisKeys(cfg.redisPrefix);
  let embedded: EmbeddedRedis | undefined;
  let redis!: RedisClient;
  let registry!: Registry;
  let supervisor!: SupervisorHandle;
  let frontDoor!: FrontDoor;
  let address!: AddressInfo;
  let workerRedis!: RedisClient;
  let health!: RedisHealth;
  let closeProbe = () => {};
  let control!: ControlPlane;
  let instances!: InstanceRegistry;
  let counters!: Counters;
  let reaper!: Reaper;
  let auditQueues!: AuditQueues;
  let watchHub!: WatchHub;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let stopRecordingHealth = () => {};
  const journal = new Journal(role.journalFile ?? journalFile(cfg.dataDir), ilog);
  const journalSink = (): JournalSink => ({ final: (e) => registry.finish(e.record), ...auditQueues?.sink });
  const flushJournal = () => void journal.flush(journalSink()).catch((err: Error) => ilog.warn({ err }, 'journal write failed'));
  const startedAt = Date.now();
  // Admin API (optional): its stage runs last; sessions get its tapped audit logger.
  // Loaded only when configured: Fastify and prom-client cost startup time nobody else needs.
  // Fleet events and the fleet's copy of every audit event (GET /api/events, /api/audit).
  const fleet = new FleetEvents(id, ilog);
  const counts = new InstanceCounts();
  audit = counts.tap(fleet.tap(audit));
  const admin = cfg.admin && (await import('./admin/admin-stage.js')).adminStage(cfg, audit, ilog, () => ({ id, redis, registry, instances, counters }));
  if (admin) audit = admin.audit;
  const beat = async () => {
    const sessions = await supervisor.count();
    const addr = address ? `${address.address}:${address.port}` : '';
    await instances
      .heartbeat({ id, host: hostname(), pid: process.pid, version: packageVersion(), started: startedAt, sessions, address: addr, counts: counts.serialize() }, cfg.instance.lease)
      .catch((err: unknown) => ilog.warn({ err }, 'heartbeat failed'));
  };

  const stages: Stage[] = [
    { name: 'native-crypto', start: () => (checkNativeCrypto(ilog), checkSsh2Patch(ilog)) },
    {
      name: 'data-dir',
      start: () => {
        makePrivateDir(cfg.dataDir);
        const wide = widerThanPrivate(cfg.dataDir);
        if (wide.paths.length) {
          ilog.warn({ count: wide.paths.length, scanned: wide.scanned, paths: wide.paths.slice(0, 10) }, 'files under dataDir are readable by group or others: chmod -R go= the data dir');
        }
      },
    },
    {
      name: 'embedded-redis',
      start: async () => {
        if (!cfg.redis && role.embeddedRedis !== 'parent') embedded = await startEmbeddedRedis(cfg, ilog);
      },
      // Stopped last, after the final records are in it.
      stop: () => embedded?.stop(1_500),
      reserve: 2_000,
    },
    {
      name: 'journal',
      start: () => void journal.load(),
      // After the Redis connections are closed, so nothing in flight can still land.
      stop: () => void journal.save(),
      reserve: 500,
    },
    {
      name: 'redis',
      start: async () => {
        redis = connectRedis(cfg);
        workerRedis = connectRedis(cfg, { blocking: true });
        for (const r of [redis, workerRedis]) r.on('error', (err: Error) => ilog.debug({ err }, 'redis error'));
        await redis.ping().catch((err: Error) => {
          throw new WardenError('REDIS_UNAVAILABLE', `${describeRedis(cfg)}: ${err.message}`);
        });
        ({ health, close: closeProbe } = await startRedisProbe(cfg, redis, ilog));
        registry = new Registry(redis, keys, { retentionMs: cfg.registry.retention, historyMax: cfg.registry.historyMax, listener: fleet });
        instances = new InstanceRegistry(redis, keys);
        counters = new Counters(redis, keys);
        fleet.connect(redis, keys);
        // Final records of the previous run first: the reap below must not finalise them again
        // with the wrong reason and time.
        await journal.flush(journalSink());
        // A restarted instance with a configured id owns nothing from its previous process.
        if (cfg.instanceId) {
          const stale = await registry.reapInstance(id, { force: true });
          if (stale.length) ilog.warn({ sessions: stale.length }, 'finalised sessions left by this instance\'s previous process');
        }
      },
      stop: async () => {
        // Last: every session of ours is final by now, so nobody reaps them as lost.
        closeProbe();
        await withTimeout(fleet.close(), 1_000);
        // Bounded: a frozen or unreachable Redis answers neither; disconnect fails what waits.
        await withTimeout(instances.forget(id).catch(() => {}), 1_000);
        await withTimeout(Promise.all([redis.quit(), workerRedis.quit()]).catch(() => {}), 1_000);
        redis.disconnect();
        workerRedis.disconnect();
        await new Promise((resolve) => setImmediate(resolve)); // let the failed writes reach the journal
      },
    },
    {
      name: 'audit-queues',
      start: async () => {
        await migrateLegacyQueues(redis, keys, id, ilog).catch((err: Error) => ilog.warn({ err }, 'could not move jobs from the legacy BullMQ prefix'));
        auditQueues = new AuditQueues({
          instanceId: id, keys, connection: redis, workerConnection: workerRedis, registry, dataDir: cfg.dataDir, log: ilog,
          journal, available: () => health.available,
        });
        await auditQueues.ready();
        await journal.flush(journalSink());
      },
      // Sessions close their recordings on the way out; give the queue a moment to take them.
      stop: () => withTimeout(auditQueues.close(), 1_000).then(() => {}),
    },
    { name: 'watch', start: async () => void (watchHub = await startWatchHub({ instanceId: id, keys, redis, notifyUser: cfg.watch.notifyUser, audit, log: ilog })), stop: () => watchHub.stop() },
    {
      name: 'supervisor',
      start: () => {
        const recordingHealth = cfg.recording.enabled
          ? new RecordingHealth({ dir: recordingsDir(cfg), minFreeSpace: cfg.recording.minFreeSpace, log: ilog, audit })
          : undefined;
        supervisor = new SupervisorHandle({
          registry,
          log: ilog,
          deps: {
            cfg, registry, hostKeys: new HostKeyStore(redis, keys), instanceId: id, log: ilog, audit, counters, auditSink: auditQueues, recordingHealth,
            penalty: new AuthPenalty(redis, keys, { threshold: cfg.auth.penaltyThreshold, windowMs: cfg.auth.penaltyWindow }),
            scheduler: { schedule: (kind, sessionId, at) => control.schedule(kind, sessionId, at), cancel: (sessionId) => control.cancel(sessionId) },
            registryAvailable: () => health.available,
          },
          journal,
          watchHub,
        });
        supervisor.startActivityFlush(cfg.registry.activityFlushInterval);
        recordingHealth?.startWatching(30_000);
        stopRecordingHealth = () => recordingHealth?.stopWatching();
      },
      stop: async () => {
        stopRecordingHealth();
        await supervisor.shutdown({ reason: 'shutdown' });
      },
    },
    {
      name: 'control',
      start: async () => {
        control = new ControlPlane({ instanceId: id, keys, connection: redis, workerConnection: workerRedis, supervisor, registry, counters, log: ilog, events: fleet });
        await control.ready();
      },
      // Bounded: the sessions (next) must be told and finalised even if Redis hangs here.
      stop: () => withTimeout(control.close(), 1_000).then(() => {}),
    },
    {
      name: 'front-door',
      start: async () => {
        const hostKey = loadOrCreateHostKey(cfg.hostKeyFile, ilog);
        const admission = { maxStartups: cfg.auth.maxStartups, perSourceMaxStartups: cfg.auth.perSourceMaxStartups, trustedProxies: cfg.proxyProtocol.trusted, algorithms: cfg.algorithms };
        frontDoor = new FrontDoor((client, remote) => supervisor.connection(client, remote), { hostKey, loginGraceMs: cfg.auth.loginGraceTime, keepaliveMs: cfg.clientKeepaliveInterval, ...admission }, ilog);
        address = await frontDoor.listen(cfg.listen.host, cfg.listen.port);
      },
      stop: () => {
        void frontDoor.stopAccepting();
      },
    },
    {
      name: 'heartbeat',
      start: async () => {
        await beat();
        fleet.publish({ type: 'instance_up', instance: id });
        heartbeatTimer = setInterval(() => void beat(), cfg.instance.heartbeatInterval);
        heartbeatTimer.unref();
        reaper = new Reaper(id, registry, instances, counters, ilog, fleet);
        reaper.start(cfg.instance.reaperInterval);
        // After a Redis restart or failover: write what waited, re-assert what is live.
        health.onChange((up) => up && flushJournal());
        redis.on('ready', () => {
          void beat();
          flushJournal();
          supervisor.reassert().then(
            (r) => ilog.info(r, 'redis reconnected: registry re-asserted'),
            (err: Error) => ilog.warn({ err }, 're-assert failed'),
          );
        });
      },
      stop: () => {
        clearInterval(heartbeatTimer);
        reaper.stop();
      },
    },
    ...(admin ? [admin] : []),
  ];

  const started: Stage[] = [];
  /**
   * Stop in reverse order within `budgetMs`: a stage that overruns is left behind (logged)
   * so the next can run; stages with a `reserve` (journal, embedded Redis) get their time
   * even when the ones before used everything.
   */
  const stopAll = async (budgetMs: number) => {
    const end = Date.now() + budgetMs;
    let reserved = started.reduce((sum, st) => sum + (st.reserve ?? 0), 0);
    for (const stage of started.reverse()) {
      reserved -= stage.reserve ?? 0;
      const left = Math.max(end - reserved - Date.now(), stage.reserve ?? 0);
      const run = (async () => stage.stop?.())().then(
        () => true,
        (err: Error) => (ilog.warn({ stage: stage.name, err }, 'stop failed'), true),
      );
      if (!(await withTimeout(run, left))) ilog.warn({ stage: stage.name, ms: left }, 'stop took too long: going on');
    }
  };
  try {
    for (const stage of stages) {
      await stage.start();
      started.push(stage);
    }
  } catch (err) {
    await stopAll(cfg.shutdownTimeout);
    throw err;
  }
  ilog.info({ address: `${address.address}:${address.port}` }, 'warden started');

  let stopping: Promise<void> | undefined;
  return {
    id,
    address,
    supervisor,
    registry,
    redis,
    keys,
    stop: () => (stopping ??= stopAll(cfg.shutdownTimeout)),
    instances,
    counters,
  };
}
