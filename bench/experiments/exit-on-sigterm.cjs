// Preload for profiled helper processes (keystroke-cpu.mts): exit normally on SIGTERM, so that
// node --cpu-prof writes its profile (a process killed by a signal writes none).
process.on('SIGTERM', () => process.exit(0));
