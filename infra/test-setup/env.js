// Runs in every jest worker before the tests: quiet logs unless asked for.
process.env.NODE_ENV = 'test';
process.env.LOG_LEVEL ??= 'silent';
