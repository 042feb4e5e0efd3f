/** Three projects, as serverless-test-samples lays them out: unit (no I/O), infra (CDK assertions + cdk-nag), integration (real emulators). */
// tsconfig sets isolatedModules, so ts-jest only transpiles; `npm test` type-checks once with tsc.
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  moduleFileExtensions: ['ts', 'js', 'json'],
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'], setupFiles: ['<rootDir>/test/support/fast-check-setup.ts'] },
    { ...common, displayName: 'infra', testMatch: ['<rootDir>/test/infra/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'], slowTestThreshold: 60, setupFiles: ['<rootDir>/test/support/fast-check-setup.ts'] },
  ],
};
