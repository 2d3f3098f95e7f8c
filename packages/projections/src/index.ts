/** Read models: placeholder until the projections land. */
export const PROJECTIONS_VERSION = 1;
