import type { Logger } from 'pino';
import { generateToken, removeTokenFile, writeTokenFile, type ApiServer } from '../api/index.js';

/**
 * The one owner of the daemon's API token: the configured one (`api.token`, `api.tokenFile`), or,
 * when there is none and `generate` is on, a random one stored where only this user can read it
 * (`writeTokenFile`), so this user's CLI finds it. Only the file's path is ever logged.
 */
export class ApiToken {
  readonly #server: ApiServer;
  readonly #logger: Logger;
  readonly #generate: boolean;
  #current: string | undefined;
  #generated: { readonly token: string; path?: string } | undefined;

  constructor(opts: { readonly server: ApiServer; readonly logger: Logger; readonly generate: boolean }) {
    this.#server = opts.server;
    this.#logger = opts.logger;
    this.#generate = opts.generate;
  }

  /** Before the server starts: puts `configured`, or a generated token, in force. */
  prepare(configured: string | undefined): void {
    if (configured === undefined && this.#generate) this.#generated = { token: generateToken() };
    this.#use(configured ?? this.#generated?.token);
  }

  /** After the server listens: stores a generated token for the CLI. Throws `TokenFileError`. */
  async publish(): Promise<void> {
    const generated = this.#generated;
    const port = this.#server.port;
    if (generated === undefined || port === undefined || generated.path !== undefined) return;
    generated.path = await writeTokenFile(port, generated.token);
    this.#logger.info({ tokenFile: generated.path }, 'API token generated: readable only by this user, whose procmgr commands use it');
  }

  /** A reload: a changed configured token replaces the one in force at once (the old one stops working). */
  async rotate(configured: string | undefined): Promise<void> {
    if (configured === this.#current || (configured === undefined && this.#generated !== undefined)) return;
    await this.#dropGenerated();
    this.prepare(configured);
    await this.publish();
    this.#logger.info({ source: configured === undefined ? (this.#generate ? 'generated' : 'none') : 'config' }, 'API token replaced');
  }

  /** At stop: removes the generated token's file. */
  close(): Promise<void> {
    return this.#dropGenerated();
  }

  #use(token: string | undefined): void {
    this.#current = token;
    this.#server.setToken(token);
  }

  async #dropGenerated(): Promise<void> {
    const generated = this.#generated;
    this.#generated = undefined;
    if (generated?.path !== undefined) await removeTokenFile(generated.path, generated.token);
  }
}
