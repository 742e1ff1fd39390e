"""uniap's measuring processes: one per device, started by profiler/measure/driver.ts."""
