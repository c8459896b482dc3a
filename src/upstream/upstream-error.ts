// Failures to reach an upstream at all (as opposed to an upstream that answered with an error status).

export class UpstreamUnavailableError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause })
    this.name = 'UpstreamUnavailableError'
  }
}
