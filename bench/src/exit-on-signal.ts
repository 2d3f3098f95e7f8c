/**
 * Preloaded (`node -r`) into an app run under --cpu-prof: V8 writes the profile only when the process
 * exits through process.exit, not when a signal kills it.
 */
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => process.exit(0));
