import { describeConvergence } from './support/convergence';

/** Convergence as a property, delivery 'enrichment-send' (issue 12 §5; test/integration/support/convergence.ts). */
describeConvergence('enrichment-send');
