/**
 * The real `pulumi` CLI for the end-to-end tests and the benchmark: built by
 * scripts/ensure-pulumi.sh, run offline against a local file backend in a
 * temp directory, with a Pulumi project per program whose node_modules is the
 * repository's (so `@pop3-iac/provider` resolves through the npm workspace
 * link, as it does for the examples).
 */
import { cp, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { RUNTIME_ROOT } from './pop3d-process';

/** The repository: the runtime is one of its workspaces, at its top level. */
export const REPO_ROOT = dirname(RUNTIME_ROOT);

export interface RunResult {
  exitCode: number;
  /** stdout and stderr, interleaved as printed. */
  output: string;
  stdout: string;
}

/** Builds (first time only, minutes) or finds the pulumi CLI; returns its bin directory. */
export async function pulumiBinDir(): Promise<string> {
  const { execa } = await import('execa');
  const result = await execa('bash', [join(REPO_ROOT, 'scripts', 'ensure-pulumi.sh')], { reject: false });
  if (result.exitCode !== 0) throw new Error(`scripts/ensure-pulumi.sh failed:\n${result.stderr}`);
  return result.stdout.trim().split('\n').pop()!;
}

/** One temp world: a file backend, a PULUMI_HOME, and the environment that makes the CLI work offline. */
export class PulumiWorld {
  /** Every command's output, so a test can check that nothing ever printed a secret. */
  readonly transcript: string[] = [];

  private constructor(
    readonly root: string,
    readonly env: Record<string, string>,
  ) {}

  static async create(): Promise<PulumiWorld> {
    const bin = await pulumiBinDir();
    const root = await mkdtemp(join(tmpdir(), 'pop3-pulumi-'));
    await mkdir(join(root, 'backend'));
    await mkdir(join(root, 'home'));
    return new PulumiWorld(root, {
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      PULUMI_BACKEND_URL: `file://${join(root, 'backend')}`,
      PULUMI_HOME: join(root, 'home'),
      PULUMI_CONFIG_PASSPHRASE: 'e2e-passphrase',
      PULUMI_SKIP_UPDATE_CHECK: 'true',
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
    });
  }

  /** A Pulumi project in the temp world: Pulumi.yaml, package.json, node_modules -> the repository's. */
  async project(name: string, files: Record<string, string> = {}, copyFrom?: string): Promise<PulumiProject> {
    const dir = join(this.root, name);
    if (copyFrom !== undefined) {
      await cp(copyFrom, dir, {
        recursive: true,
        filter: (source) => !/(node_modules|Pulumi\.[^/]+\.yaml)$/.test(source),
      });
    } else {
      await mkdir(dir);
      await writeFile(join(dir, 'Pulumi.yaml'), `name: ${name}\nruntime: nodejs\n`);
      await writeFile(
        join(dir, 'package.json'),
        `${JSON.stringify({ name, private: true, main: 'index.ts' }, null, 2)}\n`,
      );
    }
    await symlink(resolve(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
    for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
    return new PulumiProject(this, dir);
  }
}

export class PulumiProject {
  constructor(
    readonly world: PulumiWorld,
    readonly dir: string,
  ) {}

  /** `pulumi <args>` in the project directory; never throws for a non-zero exit. */
  async run(args: string[]): Promise<RunResult> {
    const { execa } = await import('execa');
    const result = await execa('pulumi', ['--color', 'never', ...args], {
      cwd: this.dir,
      env: this.world.env,
      reject: false,
      all: true,
      stdin: 'ignore',
      timeout: 120_000,
    });
    const output = result.all ?? '';
    this.world.transcript.push(`$ pulumi ${args.join(' ')}\n${output}`);
    return { exitCode: result.exitCode ?? -1, output, stdout: result.stdout };
  }

  /** Like run, but a non-zero exit is a test failure that shows the output. */
  async ok(args: string[]): Promise<RunResult> {
    const result = await this.run(args);
    if (result.exitCode !== 0) throw new Error(`pulumi ${args.join(' ')} exited ${result.exitCode}:\n${result.output}`);
    return result;
  }

  async setConfig(values: Record<string, string | number>, secrets: Record<string, string> = {}): Promise<void> {
    for (const [key, value] of Object.entries(values)) await this.ok(['config', 'set', key, '--', String(value)]);
    for (const [key, value] of Object.entries(secrets)) {
      // From stdin, not the command line: no secret in a process listing.
      const { execa } = await import('execa');
      await execa('pulumi', ['config', 'set', '--secret', key], { cwd: this.dir, env: this.world.env, input: value });
    }
  }

  async write(file: string, text: string): Promise<void> {
    await writeFile(join(this.dir, file), text);
  }
}
