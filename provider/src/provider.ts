/**
 * The dynamic provider object that Pulumi's closure serializer writes into
 * every Pop3Service's state (`__provider`) and that the dynamic-provider host
 * later rebuilds from that text. It must capture nothing: each method
 * `require`s the implementation by package name when it runs, so the stored
 * text stays a few hundred bytes, holds no machine paths, and picks up the
 * installed provider version (which must keep older state loadable).
 *
 * The host evaluates the text with `require` resolving from the Pulumi
 * project's directory, where `@pop3-iac/provider` is installed (in an npm
 * workspace, through the workspace's node_modules link).
 */
import type { dynamic } from '@pulumi/pulumi';
import type * as Operations from './operations';

/* eslint-disable @typescript-eslint/no-require-imports -- see above: a require inside each method is what keeps the serialized closure free of captured modules */
export const pop3ServiceProvider: dynamic.ResourceProvider = {
  async check(olds, news) {
    const operations = require('@pop3-iac/provider/dist/src/operations') as typeof Operations;
    return operations.check(olds, news);
  },
  async diff(id, olds, news) {
    const operations = require('@pop3-iac/provider/dist/src/operations') as typeof Operations;
    return operations.diff(id, olds, news);
  },
  async create(inputs) {
    const operations = require('@pop3-iac/provider/dist/src/operations') as typeof Operations;
    return operations.create(inputs);
  },
  async read(id, props) {
    const operations = require('@pop3-iac/provider/dist/src/operations') as typeof Operations;
    return operations.read(id, props);
  },
  async update(id, olds, news) {
    const operations = require('@pop3-iac/provider/dist/src/operations') as typeof Operations;
    return operations.update(id, olds, news);
  },
  async delete(id, props) {
    const operations = require('@pop3-iac/provider/dist/src/operations') as typeof Operations;
    return operations.remove(id, props);
  },
};
/* eslint-enable @typescript-eslint/no-require-imports */
