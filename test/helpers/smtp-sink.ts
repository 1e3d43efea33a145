import { createServer, type AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer, type SMTPServerError } from "smtp-server";

export interface ReceivedMail {
  readonly mailFrom: string;
  readonly rcptTo: string[];
  readonly login: { username: string; password: string } | null;
  readonly mail: ParsedMail;
}

export interface SmtpSink {
  readonly port: number;
  readonly received: ReceivedMail[];
  /** Replies to each RCPT TO: return an SMTP code to refuse (e.g. 451 to defer, 550 to refuse for good). */
  rcptReply: (address: string) => number | null;
  close(): Promise<void>;
}

/**
 * A real SMTP server on loopback that keeps every message it accepts, parsed. Plain text only
 * (no STARTTLS): the SMTP conversation itself is what the tests exercise.
 */
export async function startSmtpSink(): Promise<SmtpSink> {
  const received: ReceivedMail[] = [];
  const logins = new Map<string, { username: string; password: string }>();
  const sink: SmtpSink = { port: 0, received, rcptReply: () => null, close: () => Promise.resolve() };
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ["STARTTLS"],
    authOptional: true,
    allowInsecureAuth: true,
    onAuth(auth, session, callback) {
      logins.set(session.id, { username: auth.username ?? "", password: auth.password ?? "" });
      callback(null, { user: auth.username });
    },
    onRcptTo(address, _session, callback) {
      const code = sink.rcptReply(address.address);
      if (code === null) return callback();
      const refusal: SMTPServerError = new Error(`${code === 451 ? "try again later" : "no such mailbox"}: ${address.address}`);
      refusal.responseCode = code;
      callback(refusal);
    },
    onData(stream, session, callback) {
      simpleParser(stream).then(
        (mail) => {
          received.push({
            mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            rcptTo: session.envelope.rcptTo.map((r) => r.address),
            login: logins.get(session.id) ?? null,
            mail,
          });
          callback();
        },
        (e: Error) => callback(e),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return Object.assign(sink, {
    port: (server.server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

/** A loopback port nothing listens on: bound, then released. */
export async function deadPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
