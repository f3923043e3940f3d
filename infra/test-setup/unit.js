// setupFilesAfterEnv of the unit project (jest.unit.config.js): no sockets, and a file whose code
// tried to open one fails even when the code caught the refusal and carried on.
'use strict';
/* global afterAll */
const { forbidNetwork, takeAttempts } = require('./no-network');

forbidNetwork();
takeAttempts(); // a previous file's attempts were already reported against that file

afterAll(() => {
  const attempts = takeAttempts();
  if (attempts.length > 0) {
    throw new Error(
      `this file tried to open sockets (${attempts.join(', ')}); unit tests need no server: ` +
        'move it out of the unit selection in jest.unit.config.js',
    );
  }
});
