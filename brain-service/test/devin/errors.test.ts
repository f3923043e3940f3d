import { DevinError, readDetail } from '../../src/devin/errors';

describe('readDetail', () => {
  it('when the body is {detail: "…"}, then the detail is the text', () => {
    expect(readDetail(404, { detail: 'Session not found' })).toBe('Session not found');
  });

  it('when the body is a FastAPI 422, then each error reads as location: message', () => {
    const body = {
      detail: [
        { type: 'missing', loc: ['body', 'prompt'], msg: 'Field required', input: {} },
        { type: 'int_type', loc: ['body', 'tags', 0], msg: 'Input should be a valid string' },
      ],
    };

    expect(readDetail(422, body)).toBe(
      'body.prompt: Field required; body.tags.0: Input should be a valid string',
    );
  });

  it('when the detail has another shape, then it is shown as JSON', () => {
    expect(readDetail(400, { detail: { code: 'x' } })).toBe('{"code":"x"}');
  });

  it('when the body is text, then it is shortened to a readable length', () => {
    expect(readDetail(502, 'x'.repeat(2_000))).toHaveLength(501);
  });

  it('when there is no body, then the status stands in', () => {
    expect(readDetail(500, null)).toBe('HTTP 500');
  });
});

describe('DevinError', () => {
  it('when it is built, then its message names the call, the status and the detail', () => {
    const error = new DevinError({
      kind: 'http',
      method: 'GET',
      path: '/v1/sessions/devin-1',
      status: 404,
      detail: 'Session not found',
      retryable: false,
      attempts: 1,
    });

    expect(error.message).toBe('Devin GET /v1/sessions/devin-1 failed (404): Session not found');
    expect(error).toMatchObject({ timeout: false, network: false, retryAfterMs: null });
  });
});
