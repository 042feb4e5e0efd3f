import { describeConvergence } from './support/convergence';

/** Convergence as a property, delivery 'pipe-target' (test/integration/support/convergence.ts). */
describeConvergence('pipe-target');
