// One owner per daemon through the real `pulumi` CLI (local file backend,
// offline), each promise of provider/README.md "Ownership" a named test. One
// project and one daemon go through the cases in order (a second stack joins
// for its case), so the whole file is about twenty pulumi commands. After each
// case a POP3 client logs in where the daemon should still serve.
import { strict as assert } from 'node:assert';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  PulumiWorld,
  firstLine,
  freePort,
  removeDir,
  serves as servesMailbox,
  startReadyDaemon,
  type Daemon,
  type PulumiProject,
} from './support';

interface Resource {
  name: string;
  socket: string;
  fields?: Record<string, unknown>;
  /** TypeScript spread into the arguments as written (what a JavaScript program could pass). */
  raw?: string;
  options?: string;
}

function program(resources: Resource[]): string {
  const declarations = resources.map((resource) => {
    const fields = Object.entries(resource.fields ?? {}).map(([key, value]) => `  ${key}: ${JSON.stringify(value)},`);
    return `new Pop3Service(${JSON.stringify(resource.name)}, {
  adminSocket: ${JSON.stringify(resource.socket)},
${fields.join('\n')}${resource.raw ? `\n  ...(${resource.raw} as object),` : ''}
}${resource.options ? `, ${resource.options}` : ''});`;
  });
  return `import { Pop3Service } from '@pop3-iac/provider';

${declarations.join('\n')}
`;
}

const PREVIEW = ['preview', '--non-interactive'];
const UP = ['up', '--yes', '--non-interactive', '--skip-preview'];
/** `up` with its preview: a failure at preview stops it before anything is applied. */
const UP_AFTER_PREVIEW = ['up', '--yes', '--non-interactive'];
const DESTROY = ['destroy', '--yes', '--non-interactive', '--skip-preview'];
const TYPE = 'pulumi-nodejs:dynamic/pop3:Pop3Service';

describe('pulumi CLI: one owner per daemon', () => {
  let world: PulumiWorld;
  let project: PulumiProject;
  let daemon: Daemon;
  let port: number;
  const seed = () => ({ binds: `127.0.0.1 ${port}`, permit: ['127.0.0.1'] });

  /** The owner the daemon records. */
  const owner = async () =>
    ((await daemon.admin('GET', '/v1/status')).body as { owner: Record<string, string> | null }).owner;
  /** A POP3 client logs in and sees its message: the daemon serves. */
  const serves = () => servesMailbox(port);
  const mail = (fields: Record<string, unknown> = {}, socket = daemon.socket): Resource => ({
    name: 'mail',
    socket,
    fields: { binds: `127.0.0.1 ${port}`, ...fields },
    options: `{ aliases: [{ name: 'pop3' }] }`,
  });

  before(async () => {
    [world, port] = await Promise.all([PulumiWorld.create(), freePort()]);
    // Set up by hand before Pulumi: one permitted address, nobody owns it.
    daemon = await startReadyDaemon({
      config: seed(),
      users: { alice: 'secret' },
      mail: { alice: [{ content: 'Subject: hello\r\n\r\nhello\r\n' }] },
    });
    project = await world.project('own');
    await project.ok(['stack', 'init', 'one']);
  });

  after(async () => {
    await daemon?.stop();
    if (daemon) await removeDir(daemon.dir);
    if (process.env.POP3_E2E_TRANSCRIPT) await writeFile(process.env.POP3_E2E_TRANSCRIPT, world.transcript.join('\n'));
    await removeDir(world.root);
  });

  it('adoption preview names each field it changes; adopt: false fails instead', async () => {
    await project.write(
      'index.ts',
      program([{ name: 'pop3', socket: daemon.socket, fields: { binds: `127.0.0.1 ${port}`, adopt: false } }]),
    );
    const refused = await project.run(PREVIEW);
    assert.notEqual(refused.exitCode, 0, refused.output);
    assert.match(refused.output, /serves a configuration nobody owns, and adopt is false: nothing was changed/);
    assert.match(refused.output, /permit: \["127\.0\.0\.1"\] \(running\) -> \[\] \(program\)/);

    await project.write(
      'index.ts',
      program([{ name: 'pop3', socket: daemon.socket, fields: { binds: `127.0.0.1 ${port}` } }]),
    );
    const adopted = await project.ok(UP_AFTER_PREVIEW);
    assert.match(
      adopted.output,
      /warning: .*serves a configuration nobody owns; creating own\/one\/pop3 adopts it and changes:/,
    );
    assert.match(adopted.output, /permit: \["127\.0\.0\.1"\] \(running\) -> \[\] \(program\)/);
    assert.equal((await owner())?.resource, 'pop3');
    assert.match(await firstLine('127.0.0.1', port, '127.0.0.2'), /^\+OK/, 'the program permits everyone');
    await serves();
  });

  it('bindz fails preview naming it', async () => {
    const before = await owner();
    await project.write(
      'index.ts',
      program([{ name: 'pop3', socket: daemon.socket, raw: `{ bindz: '127.0.0.1 ${port}' }` }]),
    );
    const result = await project.run(PREVIEW);
    assert.notEqual(result.exitCode, 0, result.output);
    assert.match(
      result.output,
      /property bindz .*has a problem: is not an input of Pop3Service \(did you mean binds\?\)/,
    );
    assert.deepEqual(await owner(), before);
    await serves();
  });

  it('rename without alias fails naming the owner and the remedies; the daemon serves', async () => {
    await project.write('index.ts', program([{ ...mail(), options: undefined }]));
    const result = await project.run(UP);
    assert.notEqual(result.exitCode, 0, result.output);
    assert.match(
      result.output,
      /is owned by own\/one\/pop3 .*aliases: \[\{ name: 'pop3' \}\].*pulumi import.*adopt: true/s,
    );
    assert.equal((await owner())?.resource, 'pop3', 'the old resource was not deleted');
    await serves();
  });

  it('rename with alias is a no-op', async () => {
    const before = await owner();
    await project.write('index.ts', program([mail()]));
    const result = await project.ok(UP);
    assert.match(result.output, /2 unchanged/, result.output);
    assert.doesNotMatch(result.output, /created|deleted|updated|replaced/);
    assert.deepEqual(await owner(), before);
    await serves();
  });

  it('--replace keeps the service: the new half applies first, the old half delete changes nothing', async () => {
    const before = await owner();
    const result = await project.ok([...UP, '--replace', `urn:pulumi:one::own::${TYPE}::mail`]);
    assert.match(result.output, /1 replaced/, result.output);
    const after = await owner();
    assert.notEqual(after?.claim, before?.claim, 'the new half holds its own claim');
    assert.equal(after?.resource, 'mail', 'the new half records the name the alias replaced');
    await serves();
  });

  it('a socket typo fails preview naming the path, and up leaves the old daemon serving', async () => {
    const before = await owner();
    const typo = join(daemon.dir, 'admin.sokc');
    await project.write('index.ts', program([mail({}, typo)]));
    const result = await project.run(UP_AFTER_PREVIEW);
    assert.notEqual(result.exitCode, 0, result.output);
    assert.match(result.output, new RegExp(`cannot reach pop3d at ${typo.replace(/\./g, '\\.')}: no socket there`));
    assert.deepEqual(await owner(), before);
    await serves();
  });

  it('the same daemon at another path is an update, not a replace', async () => {
    const link = join(daemon.dir, 'link.sock');
    await symlink(daemon.socket, link);
    await project.write('index.ts', program([mail({}, link)]));
    const result = await project.ok(UP);
    assert.match(result.output, /1 updated/, result.output);
    assert.doesNotMatch(result.output, /replaced/);
    await serves();
  });

  it('two resources on one daemon are refused', async () => {
    const before = await owner();
    const link = join(daemon.dir, 'link.sock');
    await project.write(
      'index.ts',
      program([mail({}, link), { name: 'second', socket: daemon.socket, fields: { binds: [] } }]),
    );
    const result = await project.run(UP);
    assert.notEqual(result.exitCode, 0, result.output);
    assert.match(result.output, /is owned by own\/one\/mail .*not by own\/one\/second/);
    assert.deepEqual(await owner(), before);
    await serves();
    await project.write('index.ts', program([mail({}, link)]));
  });

  it("a second stack's up is refused and its destroy does not touch the first's daemon", async () => {
    const before = await owner();
    await project.ok(['stack', 'init', 'two']);
    const refused = await project.run([...UP, '--stack', 'two']);
    assert.notEqual(refused.exitCode, 0, refused.output);
    assert.match(refused.output, /is owned by own\/one\/mail \(project own, stack one, resource mail\)/);
    await project.ok([...DESTROY, '--stack', 'two']);
    assert.deepEqual(await owner(), before);
    await serves();
  });

  it('import fails with one clear line (the import option), and pulumi import changes nothing', async () => {
    const before = await owner();
    const instanceId = ((await daemon.admin('GET', '/v1/status')).body as { instanceId: string }).instanceId;
    // The dynamic-provider host of @pulumi/pulumi cannot import (pulumi/pulumi#3550, #16175): it fails
    // before any of this provider's code runs. What we can show: it fails and records nothing.
    const cli = await project.run([
      'import',
      TYPE,
      'imported',
      instanceId,
      '--yes',
      '--non-interactive',
      '--stack',
      'two',
    ]);
    assert.notEqual(cli.exitCode, 0, cli.output);
    const exported = await project.ok(['stack', 'export', '--stack', 'two']);
    assert.doesNotMatch(exported.stdout, /Pop3Service/, 'nothing was imported into the state');

    const link = join(daemon.dir, 'link.sock');
    await project.write(
      'index.ts',
      program([{ ...mail({}, link), options: `{ import: ${JSON.stringify(instanceId)} }` }]),
    );
    const option = await project.run([...PREVIEW, '--stack', 'two']);
    assert.notEqual(option.exitCode, 0, option.output);
    // The engine prints the error twice (the stack's row and its diagnostics): one line each time.
    const lines = new Set(
      option.output
        .split('\n')
        .filter((line) => /import option/.test(line))
        .map((line) => line.replace(/^.*error: /, '')),
    );
    assert.deepEqual(
      [...lines],
      [
        'Pop3Service mail: the import option does not work with dynamic providers; remove it and let create adopt ' +
          'the daemon (adopt: true if another resource owns it); see provider/README.md "Importing a daemon"',
      ],
      option.output,
    );
    assert.doesNotMatch(option.output, /^\s+at /m, 'no stack trace');
    assert.deepEqual(await owner(), before);
    await serves();
    await project.write('index.ts', program([mail({}, link)]));
  });

  it('destroy with the daemon stopped fails naming it; after a restart the state and the daemon agree', async () => {
    await daemon.stop();
    const failed = await project.run([...DESTROY, '--stack', 'one']);
    assert.notEqual(failed.exitCode, 0, failed.output);
    assert.match(
      failed.output,
      /cannot reach pop3d at .*link\.sock: .*start pop3d .*pulumi state delete 'urn:pulumi:one::own::pulumi-nodejs:dynamic\/pop3:Pop3Service::mail'/,
    );

    daemon = await startReadyDaemon({ config: seed(), dir: daemon.dir });
    await serves();
    const agree = await project.run([
      'refresh',
      '--preview-only',
      '--expect-no-changes',
      '--non-interactive',
      '--stack',
      'one',
    ]);
    assert.equal(agree.exitCode, 0, agree.output);
    await project.ok([...DESTROY, '--stack', 'one']);
    assert.equal(await firstLine('127.0.0.1', port), 'refused');
    assert.equal(await owner(), null);
  });
});
