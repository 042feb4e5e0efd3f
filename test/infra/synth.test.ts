import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../infra/app';
import { loadReplicationConfig } from '../../infra/config';

/**
 * The one synth with everything the fast tests switch off: real esbuild bundling of both handlers
 * (catches bundling breakage) and the built-in CloudFormation validation of aws-cdk-lib 2.276
 * (an offline check of the templates), over the example config that `cdk synth` uses by default.
 */
test('the example config synthesizes with real bundling and the built-in CloudFormation validation reports nothing', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'ddbrepl-synth-'));
  try {
    const config = loadReplicationConfig('replication.config.example.json', { cwd: join(__dirname, '..', '..') });
    const { app } = buildApp(config, { appProps: { outdir, builtinCloudFormationValidation: true } });
    const assembly = app.synth();

    expect(assembly.stacks.map((s) => s.stackName).sort()).toEqual(['Ddbrepl-orders', 'Ddbrepl-orders-analytics-access', 'Ddbrepl-orders-dr-access']);
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as { pluginReports: { violations?: unknown[] }[] };
    expect(report.pluginReports.flatMap((r) => r.violations ?? [])).toEqual([]);

    // Two handlers × two targets, bundled into two distinct assets that export the handler; plus the Glue
    // scripts and the modules they import (--extra-py-files), each shipped once, byte for byte.
    const all = readdirSync(outdir).filter((name) => name.startsWith('asset.'));
    const assets = all.filter((name) => !name.endsWith('.py'));
    expect(assets).toHaveLength(2);
    const glue = join(__dirname, '..', '..', 'infra', 'glue');
    const shipped = all.filter((name) => name.endsWith('.py')).map((name) => readFileSync(join(outdir, name), 'utf8')).sort();
    expect(shipped).toEqual(['initial_load.py', 'item_digest.py', 'replication_common.py', 'verify_job.py'].map((file) => readFileSync(join(glue, file), 'utf8')).sort());
    for (const asset of assets) {
      const bundle = join(outdir, asset, 'index.js');
      expect(existsSync(bundle)).toBe(true);
      expect(readFileSync(bundle, 'utf8')).toMatch(/handler/);
    }
    const template = JSON.stringify(assembly.getStackByName('Ddbrepl-orders').template);
    for (const asset of assets) expect(template).toContain(`${asset.slice('asset.'.length)}.zip`);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});
