// The tfjs backends, in the order "auto" tries them: a light module (no tfjs) for settings tables.
export const TF_BACKENDS = ["node-gpu", "node", "wasm", "cpu"] as const;
export type BackendChoice = (typeof TF_BACKENDS)[number];
