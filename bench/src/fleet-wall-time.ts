/**
 * Scenario i: the wall time of the real `pulumi` CLI driving examples/fleet
 * (the user's program, copied as is) against 1, 3 and 10 real pop3d on
 * loopback, each reached over mutual TLS on its own --admin-listen (one PKI
 * for all), one stack per fleet size. Measured: `pulumi up` creating the N
 * services, then per repetition `pulumi preview` with a pending change (the
 * shared `deny` set to a new list) and the `pulumi up` that applies it. The
 * fleets are set up side by side and the repetitions interleave the sizes,
 * so machine noise falls on all three alike. Every step is checked: the
 * preview must announce N updates and, after each up, every daemon must have
 * applied the list. Target: 10 daemons' up at most 1.5× one daemon's.
 */
import { join } from 'node:path';
import {
  adminListenArgs,
  freePort,
  makeAdminPki,
  PulumiWorld,
  removeDir,
  REPO_ROOT,
  startReadyDaemon,
  type AdminPki,
  type Daemon,
  type PulumiProject,
} from '@pop3-iac/test-kit';
import { fmt, median } from './stats';

export const FLEET_SIZES = [1, 3, 10] as const;
/** The target: N = 10's `pulumi up` at most this many times N = 1's. */
const TARGET_RATIO = 1.5;
const PREVIEW = ['preview', '--non-interactive'];
const UP = ['up', '--yes', '--skip-preview', '--non-interactive'];
const DESTROY = ['destroy', '--yes', '--skip-preview', '--non-interactive'];

export interface FleetWallTime {
  daemons: number;
  /** Seconds, one run. */
  createS: number;
  /** Medians over the repetitions, seconds. */
  previewS: number;
  updateS: number;
}

interface Fleet {
  daemons: Daemon[];
  project?: PulumiProject;
  create: number;
  previews: number[];
  updates: number[];
}

/** Seconds `pulumi <args>` took, start to exit; a non-zero exit fails the scenario with its output. */
async function timed(project: PulumiProject, args: string[]): Promise<{ seconds: number; output: string }> {
  const started = process.hrtime.bigint();
  const { output } = await project.ok(args);
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, output };
}

async function startFleet(size: number, pki: AdminPki, fleet: Fleet): Promise<void> {
  await Promise.all(
    Array.from({ length: size }, async () => {
      const daemon = await startReadyDaemon({ config: { binds: [] }, args: adminListenArgs(pki, '127.0.0.1:0') });
      fleet.daemons.push(daemon);
    }),
  );
}

/** examples/fleet's `hosts` list: mail1..mailN, each on its daemon's admin port, one plain bind on a free port. */
async function hostsOf(fleet: Fleet): Promise<string> {
  const entries = [];
  for (const [i, daemon] of fleet.daemons.entries()) {
    const ready = await daemon.waitForEvent('pop3d.ready');
    entries.push({
      name: `mail${i + 1}`,
      url: `https://${String(ready.adminListen)}`,
      binds: `127.0.0.1 ${await freePort()}`,
    });
  }
  return JSON.stringify(entries);
}

/** Every daemon of the fleet listens on its one bind: the create reached them all (not timed). */
async function assertServing(fleet: Fleet): Promise<void> {
  for (const [i, daemon] of fleet.daemons.entries()) {
    const status = (await daemon.admin('GET', '/v1/status')).body as { listeners: unknown[] };
    if (status.listeners.length !== 1)
      throw new Error(`mail${i + 1} of ${fleet.daemons.length}: ${status.listeners.length} listeners after up, not 1`);
  }
}

/** Every daemon of the fleet has applied this deny list (read over its own admin socket, not timed). */
async function assertApplied(fleet: Fleet, deny: string[]): Promise<void> {
  for (const [i, daemon] of fleet.daemons.entries()) {
    const live = ((await daemon.admin('GET', '/v1/config')).body as { deny?: string[] }).deny ?? [];
    if (JSON.stringify(live) !== JSON.stringify(deny))
      throw new Error(
        `mail${i + 1} of ${fleet.daemons.length}: deny is ${JSON.stringify(live)}, not ${JSON.stringify(deny)}`,
      );
  }
}

export async function fleetWallTime(reps: number, log: (line: string) => void): Promise<FleetWallTime[]> {
  const fleets: Fleet[] = FLEET_SIZES.map(() => ({ daemons: [], create: NaN, previews: [], updates: [] }));
  let pki: AdminPki | undefined;
  let world: PulumiWorld | undefined;
  try {
    pki = await makeAdminPki(['127.0.0.1']);
    world = await PulumiWorld.create();
    for (const [k, size] of FLEET_SIZES.entries()) {
      const fleet = fleets[k]!;
      await startFleet(size, pki, fleet);
      // As examples/fleet/README.md sets it up: the program copied, a stack, the shared certificates, the list.
      const project = await world.project(`fleet-${size}`, {}, join(REPO_ROOT, 'examples', 'fleet'));
      await project.ok(['stack', 'init', `fleet${size}`]);
      await project.setConfig(
        {
          caPem: pki.ca.certPem,
          certPem: pki.deployer.certPem,
          allowPlaintextAuth: 'true',
          hosts: await hostsOf(fleet),
        },
        { keyPem: pki.deployer.keyPem },
      );
      fleet.project = project;
    }
    for (const fleet of fleets) {
      fleet.create = (await timed(fleet.project!, UP)).seconds;
      await assertServing(fleet);
      await assertApplied(fleet, []);
      log(`  i ${fleet.daemons.length} daemon(s): up (create) ${fmt(fleet.create)} s`);
    }
    for (let rep = 0; rep < reps; rep++) {
      // A new list each repetition (TEST-NET-1 addresses): always a real change on every host.
      const deny = [`192.0.2.${rep + 1}`];
      for (const fleet of fleets) {
        const size = fleet.daemons.length;
        const project = fleet.project!;
        await project.setConfig({ deny: JSON.stringify(deny) });
        const preview = await timed(project, PREVIEW);
        if (!new RegExp(`~ ${size} to update`).test(preview.output))
          throw new Error(`preview of ${size} daemon(s) does not announce ${size} updates:\n${preview.output}`);
        await assertApplied(fleet, rep === 0 ? [] : [`192.0.2.${rep}`]);
        const update = await timed(project, UP);
        await assertApplied(fleet, deny);
        fleet.previews.push(preview.seconds);
        fleet.updates.push(update.seconds);
        log(
          `  i ${size} daemon(s) #${rep + 1}: preview ${fmt(preview.seconds)} s, up (update) ${fmt(update.seconds)} s`,
        );
      }
    }
    for (const fleet of fleets) {
      const destroy = await timed(fleet.project!, DESTROY);
      log(`  i ${fleet.daemons.length} daemon(s): destroy ${fmt(destroy.seconds)} s`);
    }
  } finally {
    await Promise.allSettled(fleets.flatMap((f) => f.daemons.map((d) => d.stop())));
    await Promise.allSettled([
      ...fleets.flatMap((f) => f.daemons.map((d) => removeDir(d.dir))),
      pki && removeDir(pki.dir),
      world && removeDir(world.root),
    ]);
  }
  const results = fleets.map((f) => ({
    daemons: f.daemons.length,
    createS: f.create,
    previewS: median(f.previews),
    updateS: median(f.updates),
  }));
  for (const line of fleetTable(results, reps)) log(line);
  return results;
}

/** The printed table, the 10/1 ratios against the target, and what the time is made of. */
function fleetTable(results: FleetWallTime[], reps: number): string[] {
  const one = results[0]!;
  const ten = results[results.length - 1]!;
  const cell = (v: number) => fmt(v).padStart(13);
  const lines = [
    `  i examples/fleet through the pulumi CLI, medians of ${reps} preview+up repetition(s):`,
    `  i ${'daemons'.padStart(7)} ${'preview s'.padStart(13)} ${'up (create) s'.padStart(13)} ${'up (update) s'.padStart(13)}`,
    ...results.map(
      (r) => `  i ${String(r.daemons).padStart(7)} ${cell(r.previewS)} ${cell(r.createS)} ${cell(r.updateS)}`,
    ),
  ];
  const update = ten.updateS / one.updateS;
  lines.push(
    `  i ${ten.daemons}/${one.daemons} daemons: preview ${fmt(ten.previewS / one.previewS, 2)}×, up (create) ${fmt(ten.createS / one.createS, 2)}×, up (update) ${fmt(update, 2)}× (target: ${ten.daemons} daemons' up ≤ ${TARGET_RATIO}× one daemon's: ${update <= TARGET_RATIO ? 'met' : 'NOT met'})`,
  );
  // t(N) = fixed + N × perDaemon through N = 1 and N = 10: the fixed part is the CLI's start-up, the
  // language host and ts-node compiling the program; the per-daemon part is what the resources add.
  for (const [name, pick] of [
    ['preview', (r: FleetWallTime) => r.previewS],
    ['up (update)', (r: FleetWallTime) => r.updateS],
  ] as const) {
    const perDaemon = (pick(ten) - pick(one)) / (ten.daemons - one.daemons);
    const fixed = pick(one) - perDaemon * one.daemons;
    lines.push(
      `  i ${name}: fixed ≈ ${fmt(fixed)} s (CLI start-up, language host, program compile), ≈ ${fmt(perDaemon)} s more per daemon: the fixed part is ${fmt((100 * fixed) / pick(ten), 2)}% of ${ten.daemons} daemons' time`,
    );
  }
  return lines;
}
